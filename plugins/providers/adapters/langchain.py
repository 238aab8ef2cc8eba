"""Any LangChain chat model (``BaseChatModel``) or ``Embeddings`` as a provider.

A plugin builds one with the models it wants to offer and returns it from the
``register_provider_instances`` hook::

    LangChainProvider("my-models", chat_models={"mistral": ChatMistralAI(...)},
                      embeddings={"e5": HuggingFaceEmbeddings(...)})

Sampling parameters belong to the LangChain model (set them when building it); the
adapter passes ``stop`` and the tools (through ``bind_tools``) per request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from notewell.plugins.providers.adapters.http import status_error
from notewell.plugins.providers.errors import (
    ModelNotSupported,
    ProviderError,
    StreamBroken,
    UpstreamModelNotFound,
    UpstreamTimeout,
)
from notewell.plugins.providers.interface import (
    ChatDelta,
    ChatRequest,
    EmbeddingResult,
    Message,
    ModelInfo,
    Provider,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage


class LangChainProvider(Provider):
    """Offers LangChain chat models and embeddings under the ids they are given."""

    type = "langchain"
    label = "LangChain"

    def __init__(
        self,
        name: str,
        *,
        chat_models: Mapping[str, BaseChatModel] | None = None,
        embeddings: Mapping[str, Embeddings] | None = None,
    ) -> None:
        self.name = name
        self.chat_models = dict(chat_models or {})
        self.embeddings = dict(embeddings or {})

    async def list_models(self) -> list[ModelInfo]:
        chat = [
            ModelInfo(id=i, name=i, capabilities=("chat", "tools"), owned_by="langchain")
            for i in self.chat_models
        ]
        embed = [
            ModelInfo(id=i, name=i, capabilities=("embeddings",), owned_by="langchain")
            for i in self.embeddings
        ]
        return chat + embed

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        model = self._chat_model(request)
        usage, finish, calls, started = Usage(), "stop", False, False
        kwargs = {"stop": request.stop} if request.stop else {}
        chunks = model.astream(to_langchain(request.messages), **kwargs)
        try:
            async for chunk in chunks:
                started = True
                delta = self._delta(chunk)
                calls = calls or bool(delta.tool_calls)
                meta = getattr(chunk, "usage_metadata", None) or {}
                usage.prompt_tokens += int(meta.get("input_tokens") or 0)
                usage.completion_tokens += int(meta.get("output_tokens") or 0)
                reason = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason")
                finish = reason or finish
                if delta.content or delta.tool_calls:
                    yield delta
        except ProviderError:
            raise
        except Exception as exc:  # foreign model code may raise anything: report it as the
            raise self._failure(exc, started) from exc  # upstream's failure, with its cause
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        yield ChatDelta(
            finish_reason="tool_calls" if calls else finish,
            usage=usage if usage.total_tokens else None,
        )

    def _chat_model(self, request: ChatRequest) -> Any:
        model: Any = self.chat_models.get(request.model)
        if model is None:
            raise UpstreamModelNotFound(
                f"{self.name}: no chat model {request.model!r}.", connection=self.name
            )
        if request.tools:
            try:
                model = model.bind_tools(request.tools)
            except NotImplementedError:
                raise ModelNotSupported(
                    f"{self.name}: {request.model} does not support tools."
                ) from None
        return model

    def _delta(self, chunk: Any) -> ChatDelta:
        content = getattr(chunk, "content", None)
        if isinstance(content, list):
            content = "".join(
                part if isinstance(part, str) else str(part.get("text", ""))
                for part in content
                if isinstance(part, str | dict)
            )
        if not isinstance(content, str):
            raise StreamBroken(
                f"Connection {self.name!r}: the model sent a chunk that is not a message.",
                code="upstream_malformed",
                connection=self.name,
            )
        calls = [
            ToolCallDelta(
                index=int(part.get("index") or 0),
                id=part.get("id"),
                name=part.get("name"),
                arguments=part.get("args") or "",
            )
            for part in getattr(chunk, "tool_call_chunks", None) or []
        ]
        return ChatDelta(content=content, tool_calls=calls)

    def _failure(self, exc: Exception, started: bool) -> ProviderError:
        status = getattr(exc, "status_code", None) or getattr(
            getattr(exc, "response", None), "status_code", None
        )
        if isinstance(status, int):
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            return status_error(self.name, status, str(exc), headers.get("retry-after"))
        if isinstance(exc, TimeoutError):
            return UpstreamTimeout(f"Connection {self.name!r} timed out.", connection=self.name)
        message = f"Connection {self.name!r}: {type(exc).__name__}: {exc}"
        if started:
            return StreamBroken(message, connection=self.name)
        return ProviderError(message, connection=self.name)

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        embedder = self.embeddings.get(model)
        if embedder is None:
            raise UpstreamModelNotFound(
                f"{self.name}: no embeddings model {model!r}.", connection=self.name
            )
        try:
            vectors = await embedder.aembed_documents(texts)
        except Exception as exc:  # foreign model code, as in stream()
            raise self._failure(exc, started=False) from exc
        return EmbeddingResult(model, [list(map(float, v)) for v in vectors])


def to_langchain(messages: list[Message]) -> list[BaseMessage]:
    """OpenAI-shaped messages as LangChain messages."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[BaseMessage] = []
    for m in messages:
        content: Any = m.content if isinstance(m.content, list) else (m.content or "")
        if m.role == "system":
            out.append(SystemMessage(content=m.text()))
        elif m.role == "user":
            out.append(HumanMessage(content=content))
        elif m.role == "tool":
            out.append(ToolMessage(content=m.text(), tool_call_id=m.tool_call_id or ""))
        else:
            calls = [
                {
                    "name": c.function.name,
                    "args": json.loads(c.function.arguments or "{}"),
                    "id": c.id,
                    "type": "tool_call",
                }
                for c in m.tool_calls or []
            ]
            out.append(AIMessage(content=content, tool_calls=calls))
    return out
