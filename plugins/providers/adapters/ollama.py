"""Ollama's native API: ``GET /api/tags``, ``POST /api/chat`` (newline-delimited JSON,
a last object with ``done: true``, ``prompt_eval_count`` and ``eval_count``) and
``POST /api/embed``. Errors are ``{"error": "..."}``. Tool calls arrive whole, with
arguments as an object."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from notewell.plugins.providers.adapters.http import HttpProvider
from notewell.plugins.providers.interface import (
    Capability,
    ChatAccumulator,
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbeddingResult,
    Message,
    ModelInfo,
    ToolCallDelta,
    Usage,
)

_EMBEDDING = re.compile(r"embed|bge|minilm|bert|e5-|gte-", re.IGNORECASE)
_VISION = re.compile(r"llava|vision|-vl|moondream|gemma3|bakllava|minicpm-v", re.IGNORECASE)
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "stop": "stop",
    "seed": "seed",
}


class OllamaProvider(HttpProvider):
    """An Ollama server, through its native API (not its OpenAI-compatible one)."""

    type = "ollama"
    label = "Ollama"
    default_base_url = "http://localhost:11434"

    def auth_headers(self) -> dict[str, str]:
        # Ollama has no keys of its own; a reverse proxy in front of it may want one
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    async def list_models(self) -> list[ModelInfo]:
        payload = await self.request_json("GET", "/api/tags")
        rows = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise self.malformed("the model list has no `models` array")
        return [model_info(row) for row in rows if isinstance(row, dict) and row.get("name")]

    async def chat(self, request: ChatRequest) -> ChatResult:
        payload = await self.request_json("POST", "/api/chat", json=body(request, stream=False))
        if not isinstance(payload, dict) or not payload.get("done"):
            raise self.malformed("the answer is not a finished chat response")
        acc = ChatAccumulator(payload.get("model") or request.model)
        delta = self._delta(payload.get("message") or {}, 0)
        acc.add(delta)
        acc.add(
            ChatDelta(
                finish_reason="tool_calls"
                if delta.tool_calls
                else payload.get("done_reason") or "stop",
                usage=Usage(
                    int(payload.get("prompt_eval_count") or 0), int(payload.get("eval_count") or 0)
                ),
            )
        )
        return acc.result()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        calls = 0
        async with self.open_stream("POST", "/api/chat", json=body(request)) as response:
            async for chunk in self.ndjson(response):
                if not isinstance(chunk, dict):
                    raise self.malformed("a stream line is not an object")
                if "error" in chunk:
                    raise self.error_for(502, response.headers, json.dumps(chunk).encode())
                delta = self._delta(chunk.get("message") or {}, calls)
                calls += len(delta.tool_calls)
                if chunk.get("done"):
                    delta.finish_reason = (
                        "tool_calls" if calls else (chunk.get("done_reason") or "stop")
                    )
                    delta.usage = Usage(
                        int(chunk.get("prompt_eval_count") or 0), int(chunk.get("eval_count") or 0)
                    )
                    yield delta
                    return
                if delta.content or delta.tool_calls:
                    yield delta
        raise self.broken()

    def _delta(self, message: dict[str, Any], first_index: int) -> ChatDelta:
        if not isinstance(message, dict):
            raise self.malformed("a stream message is not an object")
        calls = []
        for offset, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") or {}
            arguments = function.get("arguments")
            calls.append(
                ToolCallDelta(
                    index=first_index + offset,
                    id=f"call_{first_index + offset}",
                    name=function.get("name"),
                    arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
                )
            )
        return ChatDelta(content=message.get("content") or "", tool_calls=calls)

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        payload = await self.request_json(
            "POST", "/api/embed", json={"model": model, "input": texts}
        )
        vectors = payload.get("embeddings") if isinstance(payload, dict) else None
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            raise self.malformed("the embeddings answer has no vectors")
        usage = Usage(int(payload.get("prompt_eval_count") or 0), 0)
        return EmbeddingResult(model, [list(map(float, v)) for v in vectors], usage)


def body(request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """The JSON body of an ``/api/chat`` request."""
    data: dict[str, Any] = {
        "model": request.model,
        "messages": [message(m) for m in request.messages],
        "stream": stream,
    }
    if request.tools:
        data["tools"] = request.tools
    options = {
        name: getattr(request, key)
        for key, name in _OPTIONS.items()
        if getattr(request, key) is not None
    }
    data["options"] = {**options, **request.options.get("options", {})}
    data.update({k: v for k, v in request.options.items() if k != "options"})
    return data


def message(m: Message) -> dict[str, Any]:
    """One message in Ollama's shape: text content, images as base64, tool-call objects."""
    out: dict[str, Any] = {"role": m.role, "content": m.text()}
    images = [
        part["image_url"]["url"].split(",", 1)[-1]
        for part in (m.content if isinstance(m.content, list) else [])
        if part.get("type") == "image_url"
        and str(part.get("image_url", {}).get("url", "")).startswith("data:")
    ]
    if images:
        out["images"] = images
    if m.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": c.function.name, "arguments": _arguments(c.function.arguments)}}
            for c in m.tool_calls
        ]
    if m.role == "tool" and m.name:
        out["tool_name"] = m.name
    return out


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return raw


def model_info(row: dict[str, Any]) -> ModelInfo:
    """An ``/api/tags`` entry; capabilities come from the name and family."""
    name = str(row["name"])
    details = row.get("details") or {}
    families = " ".join([str(details.get("family", "")), *(details.get("families") or [])])
    caps: tuple[Capability, ...]
    if _EMBEDDING.search(name) or "bert" in families:
        caps = ("embeddings",)
    else:
        vision = _VISION.search(name) or "clip" in families
        caps = ("chat", "tools", "vision") if vision else ("chat", "tools")
    return ModelInfo(id=name, name=name, capabilities=caps, owned_by="ollama")
