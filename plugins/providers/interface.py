"""The provider interface: what every model provider implements and what callers get back.

Requests and messages use the OpenAI chat shape (the lingua franca every adapter
translates from); results are small dataclasses with ``to_openai…`` helpers so that an
OpenAI-compatible route is a thin layer over them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from notewell.kernel.errors import NotewellError
from notewell.plugins.providers.errors import ModelNotSupported, ProviderError, provider_failed

Capability = Literal["chat", "embeddings", "tools", "vision"]


class ModelInfo(BaseModel):
    """One model a provider offers, as the provider names it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    capabilities: tuple[Capability, ...] = ("chat",)
    context_length: int | None = None
    owned_by: str | None = None


class ToolCallFunction(BaseModel):
    """The function half of a tool call: its name and JSON-encoded arguments."""

    name: str
    arguments: str = ""


class ToolCall(BaseModel):
    """A complete tool call the model asked for."""

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class Message(BaseModel):
    """One chat message in the OpenAI shape (``content`` may be a list of parts)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The text of ``content`` (text parts joined; images and the like left out)."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ChatRequest(BaseModel):
    """A chat completion request. ``model`` is the provider's own model id."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    stop: list[str] | None = None
    seed: int | None = None
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific parameters, passed as they are."
    )


@dataclass(slots=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }

    def to_openai_chunk(self, *, id: str, model: str, created: int | None = None) -> dict[str, Any]:
        """The usage chunk OpenAI sends last when ``stream_options.include_usage`` is set."""
        return {
            "id": id,
            "object": "chat.completion.chunk",
            "created": created or int(time.time()),
            "model": model,
            "choices": [],
            "usage": self.to_dict(),
        }


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a tool call: ``index`` says which call, ``arguments`` is appended."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def to_openai(self) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": self.arguments}
        if self.name is not None:
            function["name"] = self.name
        out: dict[str, Any] = {"index": self.index, "function": function}
        if self.id is not None:
            out.update(id=self.id, type="function")
        return out


@dataclass(slots=True)
class ChatDelta:
    """One piece of a streamed answer. The last one carries ``finish_reason`` and ``usage``."""

    content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None

    def to_openai_chunk(self, *, id: str, model: str, created: int | None = None) -> dict[str, Any]:
        """This delta as an OpenAI ``chat.completion.chunk`` (usage goes in a chunk of its
        own: see :meth:`Usage.to_openai_chunk`)."""
        delta: dict[str, Any] = {}
        if self.content:
            delta["content"] = self.content
        if self.tool_calls:
            delta["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        choices = [{"index": 0, "delta": delta, "finish_reason": self.finish_reason}]
        return {
            "id": id,
            "object": "chat.completion.chunk",
            "created": created or int(time.time()),
            "model": model,
            "choices": choices,
        }


@dataclass(slots=True)
class ChatResult:
    """A whole answer."""

    model: str
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage | None = None

    def to_openai(self, *, id: str, created: int | None = None) -> dict[str, Any]:
        """This result as an OpenAI ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.model_dump() for call in self.tool_calls]
        return {
            "id": id,
            "object": "chat.completion",
            "created": created or int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": (self.usage or Usage()).to_dict(),
        }


@dataclass(slots=True)
class EmbeddingResult:
    """Vectors for a list of texts, in the same order."""

    model: str
    vectors: list[list[float]]
    usage: Usage | None = None

    def to_openai(self) -> dict[str, Any]:
        """This result as an OpenAI embeddings ``list`` object."""
        data = [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(self.vectors)
        ]
        usage = self.usage or Usage()
        return {
            "object": "list",
            "data": data,
            "model": self.model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }


class ChatAccumulator:
    """Folds deltas into the answer so far: text, tool calls, finish reason, usage."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text = ""
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, delta: ChatDelta) -> None:
        self.text += delta.content
        for part in delta.tool_calls:
            call = self._calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = part.id or call["id"]
            call["name"] = part.name or call["name"]
            call["arguments"] += part.arguments
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.usage = delta.usage or self.usage

    def result(self) -> ChatResult:
        calls = [
            ToolCall(
                id=c["id"] or f"call_{i}",
                function=ToolCallFunction(name=c["name"], arguments=c["arguments"]),
            )
            for i, c in sorted(self._calls.items())
        ]
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        return ChatResult(self.model, self.text, calls, finish, self.usage)


class ChatStream:
    """A provider's stream with the answer so far kept: iterate it for deltas.

    On a :class:`ProviderError` the text received so far is put in the error's
    ``partial`` before it is re-raised; anything else a provider raises becomes a
    :class:`ProviderFailed` (with ``partial`` too). Closing it (``aclose()``, or leaving the
    ``async with`` block) closes the upstream response.
    """

    def __init__(self, deltas: AsyncIterator[ChatDelta], model: str) -> None:
        self._deltas = deltas
        self.answer = ChatAccumulator(model)

    @property
    def text(self) -> str:
        """The text received so far."""
        return self.answer.text

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatDelta:
        try:
            delta = await anext(self._deltas)
        except ProviderError as exc:
            exc.partial = self.answer.text
            raise
        except (StopAsyncIteration, NotewellError):
            raise
        except Exception as exc:  # a bug in the provider: a ProviderError like any other
            raise provider_failed(exc, f"model {self.answer.model!r}", self.answer.text) from exc
        self.answer.add(delta)
        return delta

    async def aclose(self) -> None:
        """Stop the stream and close the upstream response."""
        await self._deltas.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def result(self) -> ChatResult:
        """The answer as it stands (the whole answer once the stream has ended)."""
        return self.answer.result()


@dataclass(frozen=True)
class ConnectionConfig:
    """What a provider needs to reach its upstream. ``api_key`` is the decrypted key."""

    name: str
    type: str
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0


class Provider(ABC):
    """Base class of every provider.

    Subclasses set ``type`` (the connection type admins pick), ``label`` and, for
    HTTP providers, ``default_base_url`` and ``requires_api_key``; they implement
    :meth:`list_models` and :meth:`stream`, and :meth:`embed` when they can.
    ``stream`` is an async generator: closing it (``aclose()``, or leaving an
    ``async for`` early) must close the upstream response at once.
    """

    type: ClassVar[str] = ""
    label: ClassVar[str] = ""
    default_base_url: ClassVar[str | None] = None
    requires_api_key: ClassVar[bool] = False

    name: str = ""

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models this provider offers (one upstream call; callers cache it)."""

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Stream the answer as deltas; the last carries ``finish_reason`` and ``usage``."""

    async def chat(self, request: ChatRequest) -> ChatResult:
        """The whole answer. The default collects :meth:`stream`."""
        async with ChatStream(self.stream(request), request.model) as stream:
            async for _delta in stream:
                pass
        return stream.result()

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        """Embed ``texts`` with ``model``. The default says the provider cannot."""
        raise ModelNotSupported(f"{self.name or self.type} offers no embeddings.")

    async def aclose(self) -> None:  # noqa: B027 - optional, not abstract
        """Release clients and connections. The default has nothing to release."""
