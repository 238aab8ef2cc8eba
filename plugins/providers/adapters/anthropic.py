"""Anthropic's Messages API: ``GET /v1/models`` and ``POST /v1/messages``.

Headers ``x-api-key`` and ``anthropic-version``. Streams are server-sent events:
``message_start`` (input tokens), ``content_block_start`` / ``content_block_delta``
(``text_delta``, or ``input_json_delta`` for a ``tool_use`` block), ``message_delta``
(stop reason, output tokens), ``message_stop``; an ``error`` event reports a failure.
Anthropic offers no embeddings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from notewell.plugins.providers.adapters.http import HttpProvider
from notewell.plugins.providers.interface import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    Message,
    ModelInfo,
    ToolCall,
    ToolCallDelta,
    ToolCallFunction,
    Usage,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MAX_MODEL_PAGES = 20
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}


class AnthropicProvider(HttpProvider):
    """Claude models through the Messages API."""

    type = "anthropic"
    label = "Anthropic"
    default_base_url = "https://api.anthropic.com"
    requires_api_key = True

    def auth_headers(self) -> dict[str, str]:
        version = self.config.options.get("anthropic_version", API_VERSION)
        return {"x-api-key": self.config.api_key or "", "anthropic-version": version}

    async def list_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"limit": 100}
        for _ in range(MAX_MODEL_PAGES):
            payload = await self.request_json("GET", "/v1/models", params=params)
            rows = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(rows, list):
                raise self.malformed("the model list has no `data` array")
            models += [
                ModelInfo(
                    id=row["id"],
                    name=row.get("display_name") or row["id"],
                    capabilities=("chat", "tools", "vision"),
                    owned_by="anthropic",
                )
                for row in rows
                if isinstance(row, dict) and row.get("id")
            ]
            if not payload.get("has_more") or not payload.get("last_id"):
                break
            params = {"limit": 100, "after_id": payload["last_id"]}
        return models

    async def chat(self, request: ChatRequest) -> ChatResult:
        payload = await self.request_json("POST", "/v1/messages", json=body(request, stream=False))
        blocks = payload.get("content") if isinstance(payload, dict) else None
        if not isinstance(blocks, list):
            raise self.malformed("the message has no content blocks")
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        calls = [
            ToolCall(
                id=b.get("id") or f"call_{i}",
                function=ToolCallFunction(
                    name=b.get("name", ""), arguments=json.dumps(b.get("input") or {})
                ),
            )
            for i, b in enumerate(blocks)
            if b.get("type") == "tool_use"
        ]
        usage = payload.get("usage") or {}
        return ChatResult(
            model=payload.get("model") or request.model,
            content=text,
            tool_calls=calls,
            finish_reason=STOP_REASONS.get(payload.get("stop_reason") or "", "stop"),
            usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        state = _StreamState()
        async with self.open_stream("POST", "/v1/messages", json=body(request)) as response:
            async for event, text in self.sse_events(response):
                data = self.parse_json(text)
                if not isinstance(data, dict):
                    raise self.malformed("an event's data is not an object")
                kind = data.get("type") or event
                if kind == "error":
                    raise self.error_for(_error_status(data), response.headers, text.encode())
                if kind == "message_stop":
                    yield ChatDelta(finish_reason=state.finish, usage=state.usage)
                    return
                delta = state.apply(kind, data)
                if delta is not None:
                    yield delta
        raise self.broken()


class _StreamState:
    """What a Messages stream has said so far: usage, stop reason, tool blocks."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.finish = "stop"
        self.tool_index: dict[int, int] = {}  # content block index -> tool call index

    def apply(self, kind: str, data: dict[str, Any]) -> ChatDelta | None:
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            self.usage.prompt_tokens = int(usage.get("input_tokens") or 0)
            self.usage.prompt_tokens += int(usage.get("cache_read_input_tokens") or 0)
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index[data.get("index", 0)] = len(self.tool_index)
                return ChatDelta(
                    tool_calls=[
                        ToolCallDelta(index=index, id=block.get("id"), name=block.get("name"))
                    ]
                )
            if block.get("text"):
                return ChatDelta(content=block["text"])
        elif kind == "content_block_delta":
            return self._content(data)
        elif kind == "message_delta":
            reason = (data.get("delta") or {}).get("stop_reason")
            self.finish = STOP_REASONS.get(reason or "", self.finish)
            output = (data.get("usage") or {}).get("output_tokens")
            if output is not None:
                self.usage.completion_tokens = int(output)
        return None

    def _content(self, data: dict[str, Any]) -> ChatDelta | None:
        delta = data.get("delta") or {}
        if delta.get("type") == "text_delta":
            return ChatDelta(content=delta.get("text") or "")
        if delta.get("type") == "input_json_delta":
            index = self.tool_index.get(data.get("index", 0), 0)
            return ChatDelta(
                tool_calls=[ToolCallDelta(index=index, arguments=delta.get("partial_json") or "")]
            )
        return None  # thinking and signature deltas are not passed on


def body(request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """The JSON body of a ``/v1/messages`` request."""
    system = "\n\n".join(m.text() for m in request.messages if m.role == "system")
    data: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages([m for m in request.messages if m.role != "system"]),
        "stream": stream,
    }
    if system:
        data["system"] = system
    if request.tools:
        data["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object"},
            }
            for t in request.tools
            if t.get("type", "function") == "function"
        ]
        choice = _tool_choice(request.tool_choice)
        if choice:
            data["tool_choice"] = choice
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stop", "stop_sequences"),
    ):
        if getattr(request, ours) is not None:
            data[theirs] = getattr(request, ours)
    data.update(request.options)
    return data


def messages(items: list[Message]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages as Anthropic's alternating user/assistant content blocks."""
    out: list[dict[str, Any]] = []
    for m in items:
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # tool results after each other: one turn
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(m: Message) -> list[dict[str, Any]]:
    if m.role == "tool":
        return [{"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.text()}]
    blocks: list[dict[str, Any]] = []
    for part in (
        m.content if isinstance(m.content, list) else [{"type": "text", "text": m.content or ""}]
    ):
        if part.get("type") == "text" and part.get("text"):
            blocks.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith("data:"):
                media, _, data = url[5:].partition(";base64,")
                source = {"type": "base64", "media_type": media, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
    for call in m.tool_calls or []:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": json.loads(call.function.arguments or "{}"),
            }
        )
    return blocks


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice in (None, "auto"):
        return None
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("function"):
        return {"type": "tool", "name": choice["function"]["name"]}
    return None


def _error_status(data: dict[str, Any]) -> int:
    kind = (data.get("error") or {}).get("type")
    return {
        "rate_limit_error": 429,
        "authentication_error": 401,
        "overloaded_error": 529,
        "invalid_request_error": 400,
        "not_found_error": 404,
    }.get(kind, 502)
