"""Google Gemini (the Generative Language API, ``v1beta``).

``GET /v1beta/models``, ``POST …/models/{m}:generateContent``,
``POST …/models/{m}:streamGenerateContent?alt=sse`` (each event is a whole
``GenerateContentResponse``; the last carries ``finishReason`` and ``usageMetadata``)
and ``POST …/models/{m}:batchEmbedContents``. The key goes in ``x-goog-api-key``.
"""

from __future__ import annotations

import json
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

MAX_MODEL_PAGES = 20
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
}
_CONFIG = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "stop": "stopSequences",
    "seed": "seed",
}


class GeminiProvider(HttpProvider):
    """Gemini models through generateContent / streamGenerateContent."""

    type = "gemini"
    label = "Google Gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    requires_api_key = True

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or ""}

    async def list_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"pageSize": 1000}
        for _ in range(MAX_MODEL_PAGES):
            payload = await self.request_json("GET", "/models", params=params)
            rows = payload.get("models") if isinstance(payload, dict) else None
            if not isinstance(rows, list):
                raise self.malformed("the model list has no `models` array")
            models += [
                model_info(row)
                for row in rows
                if isinstance(row, dict) and row.get("name") and _capabilities(row)
            ]
            if not payload.get("nextPageToken"):
                break
            params = {"pageSize": 1000, "pageToken": payload["nextPageToken"]}
        return models

    async def chat(self, request: ChatRequest) -> ChatResult:
        path = f"/models/{request.model}:generateContent"
        payload = await self.request_json("POST", path, json=body(request))
        if not isinstance(payload, dict) or not payload.get("candidates"):
            raise self.malformed("the answer has no candidates")
        acc = ChatAccumulator(request.model)
        delta, finish = self._delta(payload, 0)
        acc.add(delta)
        calls = bool(delta.tool_calls)
        acc.add(
            ChatDelta(
                finish_reason="tool_calls" if calls else finish or "stop",
                usage=_usage(payload.get("usageMetadata")),
            )
        )
        return acc.result()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        path = f"/models/{request.model}:streamGenerateContent"
        calls, finish, usage = 0, None, None
        async with self.open_stream(
            "POST", path, params={"alt": "sse"}, json=body(request)
        ) as response:
            async for _event, text in self.sse_events(response):
                chunk = self.parse_json(text)
                if not isinstance(chunk, dict):
                    raise self.malformed("an event's data is not an object")
                if "error" in chunk:
                    status = int((chunk["error"] or {}).get("code") or 502)
                    raise self.error_for(status, response.headers, text.encode())
                delta, reason = self._delta(chunk, calls)
                calls += len(delta.tool_calls)
                finish = reason or finish
                usage = _usage(chunk.get("usageMetadata")) or usage
                if delta.content or delta.tool_calls:
                    yield delta
        if finish is None:
            raise self.broken("the stream ended without a finish reason")
        yield ChatDelta(finish_reason="tool_calls" if calls else finish, usage=usage)

    def _delta(self, chunk: dict[str, Any], first: int) -> tuple[ChatDelta, str | None]:
        candidates = chunk.get("candidates") or []
        if not candidates:
            return ChatDelta(), None
        candidate = candidates[0]
        parts = (candidate.get("content") or {}).get("parts") or []
        text, calls = "", []
        for part in parts:
            if "text" in part and not part.get("thought"):
                text += part["text"]
            elif "functionCall" in part:
                call = part["functionCall"]
                index = first + len(calls)
                calls.append(
                    ToolCallDelta(
                        index=index,
                        id=call.get("id") or f"call_{index}",
                        name=call.get("name"),
                        arguments=json.dumps(call.get("args") or {}),
                    )
                )
        reason = candidate.get("finishReason")
        finish = FINISH_REASONS.get(reason, "stop") if reason else None
        return ChatDelta(content=text, tool_calls=calls), finish

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        requests = [
            {"model": f"models/{model}", "content": {"parts": [{"text": t}]}} for t in texts
        ]
        payload = await self.request_json(
            "POST", f"/models/{model}:batchEmbedContents", json={"requests": requests}
        )
        try:
            vectors = [list(map(float, e["values"])) for e in payload["embeddings"]]
        except (KeyError, TypeError, ValueError):
            raise self.malformed("the embeddings answer has no vectors") from None
        return EmbeddingResult(model, vectors, None)

    def error_for(self, status: int, headers: Any, body: bytes) -> Any:
        if status == 400 and b"API_KEY_INVALID" in body:
            status = 401  # Google reports a wrong key as a bad argument
        error = super().error_for(status, headers, body)
        if status == 429 and not error.headers:
            delay = _retry_delay(body)
            if delay:
                error.headers = {"Retry-After": delay}
        return error


def body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a generateContent request."""
    system = "\n\n".join(m.text() for m in request.messages if m.role == "system")
    names = {c.id: c.function.name for m in request.messages for c in m.tool_calls or []}
    data: dict[str, Any] = {
        "contents": [content(m, names) for m in request.messages if m.role != "system"],
    }
    if system:
        data["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        data["tools"] = [
            {
                "functionDeclarations": [
                    {
                        k: v
                        for k, v in t["function"].items()
                        if k in ("name", "description", "parameters")
                    }
                    for t in request.tools
                    if t.get("type", "function") == "function"
                ]
            }
        ]
    config = {
        name: getattr(request, key)
        for key, name in _CONFIG.items()
        if getattr(request, key) is not None
    }
    if config:
        data["generationConfig"] = config
    data.update(request.options)
    return data


def content(m: Message, names: dict[str, str]) -> dict[str, Any]:
    """One message as a Gemini ``Content``: roles ``user`` and ``model``."""
    if m.role == "tool":
        name = m.name or names.get(m.tool_call_id or "", "")
        return {
            "role": "user",
            "parts": [{"functionResponse": {"name": name, "response": {"content": m.text()}}}],
        }
    parts: list[dict[str, Any]] = []
    for part in (
        m.content if isinstance(m.content, list) else [{"type": "text", "text": m.content or ""}]
    ):
        if part.get("type") == "text" and part.get("text"):
            parts.append({"text": part["text"]})
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            media, _, data = url[5:].partition(";base64,")
            if url.startswith("data:") and data:
                parts.append({"inlineData": {"mimeType": media, "data": data}})
    for call in m.tool_calls or []:
        parts.append(
            {
                "functionCall": {
                    "name": call.function.name,
                    "args": json.loads(call.function.arguments or "{}"),
                }
            }
        )
    return {"role": "model" if m.role == "assistant" else "user", "parts": parts}


def _capabilities(row: dict[str, Any]) -> tuple[Capability, ...]:
    methods = row.get("supportedGenerationMethods") or []
    if "generateContent" in methods:
        return ("chat", "tools", "vision")
    if "embedContent" in methods or "batchEmbedContents" in methods:
        return ("embeddings",)
    return ()


def model_info(row: dict[str, Any]) -> ModelInfo:
    """A model list entry (``models/`` prefix dropped from the id)."""
    model_id = str(row["name"]).removeprefix("models/")
    limit = row.get("inputTokenLimit")
    return ModelInfo(
        id=model_id,
        name=row.get("displayName") or model_id,
        capabilities=_capabilities(row),
        owned_by="google",
        context_length=int(limit) if isinstance(limit, int) else None,
    )


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict) or "promptTokenCount" not in raw:
        return None
    return Usage(int(raw.get("promptTokenCount") or 0), int(raw.get("candidatesTokenCount") or 0))


def _retry_delay(body: bytes) -> str | None:
    """Seconds from a ``RetryInfo`` detail (``"7s"``), Gemini's own retry hint."""
    try:
        details = json.loads(body)["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return None
    for detail in details if isinstance(details, list) else []:
        delay = str(detail.get("retryDelay", "")) if isinstance(detail, dict) else ""
        if delay.endswith("s") and delay[:-1].replace(".", "", 1).isdigit():
            return str(round(float(delay[:-1])))
    return None
