"""OpenAI-compatible servers: OpenAI itself, vLLM, llama.cpp server, LM Studio, OpenRouter…

Wire protocol: ``GET /models``, ``POST /chat/completions`` (SSE ``data: {...}`` chunks
ending with ``data: [DONE]``, usage in a last chunk thanks to
``stream_options.include_usage``), ``POST /embeddings``; errors as
``{"error": {"message", "type", "code"}}``. ``base_url`` includes the ``/v1``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from notewell.plugins.providers.adapters.http import HttpProvider
from notewell.plugins.providers.interface import (
    Capability,
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbeddingResult,
    ModelInfo,
    ToolCall,
    ToolCallDelta,
    Usage,
)

_EMBEDDING = re.compile(r"embed|bge|minilm|e5-|gte-", re.IGNORECASE)
_VISION = re.compile(r"gpt-4o|gpt-4\.1|vision|-vl|llava|pixtral|gemma-3", re.IGNORECASE)


class OpenAIProvider(HttpProvider):
    """Any server that speaks OpenAI's chat completions API."""

    type = "openai"
    label = "OpenAI-compatible"
    default_base_url = "https://api.openai.com/v1"
    requires_api_key = False  # local servers (vLLM, llama.cpp) often need none

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    async def list_models(self) -> list[ModelInfo]:
        payload = await self.request_json("GET", "/models")
        rows = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise self.malformed("the model list has no `data` array")
        return [model_info(row) for row in rows if isinstance(row, dict) and row.get("id")]

    async def chat(self, request: ChatRequest) -> ChatResult:
        payload = await self.request_json("POST", "/chat/completions", json=body(request))
        try:
            choice = payload["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise self.malformed("the completion has no choices") from None
        calls = [ToolCall.model_validate(call) for call in message.get("tool_calls") or []]
        return ChatResult(
            model=payload.get("model") or request.model,
            content=message.get("content") or "",
            tool_calls=calls,
            finish_reason=choice.get("finish_reason") or ("tool_calls" if calls else "stop"),
            usage=usage_of(payload.get("usage")),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        data = body(request, stream=True)
        finish: str | None = None
        usage: Usage | None = None
        async with self.open_stream("POST", "/chat/completions", json=data) as response:
            async for _event, text in self.sse_events(response):
                if text.strip() == "[DONE]":
                    yield ChatDelta(finish_reason=finish or "stop", usage=usage)
                    return
                chunk = self.parse_json(text)
                if not isinstance(chunk, dict):
                    raise self.malformed("a stream chunk is not an object")
                if "error" in chunk:
                    raise self.error_for(502, response.headers, text.encode())
                usage = usage_of(chunk.get("usage")) or usage
                delta, reason = self._delta(chunk)
                finish = reason or finish
                if delta is not None:
                    yield delta
        raise self.broken()

    def _delta(self, chunk: dict[str, Any]) -> tuple[ChatDelta | None, str | None]:
        choices = chunk.get("choices") or []
        if not choices:
            return None, None
        choice = choices[0]
        if not isinstance(choice, dict):
            raise self.malformed("a stream choice is not an object")
        raw = choice.get("delta") or {}
        calls = [
            ToolCallDelta(
                index=int(part.get("index", 0)),
                id=part.get("id"),
                name=(part.get("function") or {}).get("name"),
                arguments=(part.get("function") or {}).get("arguments") or "",
            )
            for part in raw.get("tool_calls") or []
        ]
        content = raw.get("content") or ""
        if not (content or calls):
            return None, choice.get("finish_reason")
        return ChatDelta(content=content, tool_calls=calls), choice.get("finish_reason")

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        payload = await self.request_json(
            "POST", "/embeddings", json={"model": model, "input": texts}
        )
        try:
            rows = sorted(payload["data"], key=lambda row: row.get("index", 0))
            vectors = [list(map(float, row["embedding"])) for row in rows]
        except (KeyError, TypeError, ValueError):
            raise self.malformed("the embeddings answer has no vectors") from None
        return EmbeddingResult(model, vectors, usage_of(payload.get("usage")))


def body(request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The JSON body of a chat completion request."""
    data: dict[str, Any] = {
        "model": request.model,
        "messages": [m.model_dump(exclude_none=True) for m in request.messages],
        "stream": stream,
    }
    if stream:
        data["stream_options"] = {"include_usage": True}
    for key in ("tools", "tool_choice", "temperature", "top_p", "max_tokens", "stop", "seed"):
        value = getattr(request, key)
        if value is not None:
            data[key] = value
    data.update(request.options)
    return data


def usage_of(raw: Any) -> Usage | None:
    """OpenAI's usage object as :class:`Usage` (``None`` when absent)."""
    if not isinstance(raw, dict):
        return None
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def model_info(row: dict[str, Any]) -> ModelInfo:
    """A model list entry, with capabilities guessed from the id when not declared."""
    model_id = str(row["id"])
    caps: tuple[Capability, ...]
    if _EMBEDDING.search(model_id):
        caps = ("embeddings",)
    else:
        caps = ("chat", "tools", "vision") if _VISION.search(model_id) else ("chat", "tools")
    length = row.get("context_length") or row.get("max_model_len") or row.get("context_window")
    return ModelInfo(
        id=model_id,
        name=str(row.get("name") or model_id),
        capabilities=caps,
        context_length=int(length) if isinstance(length, int | float) else None,
        owned_by=row.get("owned_by"),
    )
