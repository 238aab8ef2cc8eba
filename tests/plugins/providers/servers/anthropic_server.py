"""A fake Anthropic Messages API: /v1/models and /v1/messages (SSE events)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .base import (
    API_KEY,
    PIECES,
    RETRY_AFTER,
    TOOL_ARGUMENTS,
    ServerState,
    cut_connection,
    json_response,
    prompt_tokens,
    wait_for_disconnect,
)

MODELS = [
    {
        "type": "model",
        "id": "chat-model",
        "display_name": "Chat Model",
        "created_at": "2025-01-01T00:00:00Z",
    },
    {
        "type": "model",
        "id": "other-model",
        "display_name": "Other Model",
        "created_at": "2025-01-01T00:00:00Z",
    },
]
CHAT_MODELS = {"chat-model", "drop-model", "garbage-model", "slow-model"}


def error(status: int, kind: str, message: str) -> web.Response:
    headers = {"retry-after": RETRY_AFTER} if status == 429 else {}
    return json_response(
        {"type": "error", "error": {"type": kind, "message": message}}, status, **headers
    )


def make_app(state: ServerState) -> web.Application:
    """The app; what it saw goes into ``state``."""

    def refused(request: web.Request) -> web.Response | None:
        if not request.headers.get("anthropic-version"):
            return error(400, "invalid_request_error", "anthropic-version header is required")
        if request.headers.get("x-api-key") != API_KEY:
            return error(401, "authentication_error", "invalid x-api-key")
        return None

    async def models(request: web.Request) -> web.Response:
        if (answer := refused(request)) is not None:
            return answer
        # one model per page, to exercise pagination
        after = request.query.get("after_id")
        start = 0 if after is None else [m["id"] for m in MODELS].index(after) + 1
        page = MODELS[start : start + 1]
        return json_response(
            {
                "data": page,
                "has_more": start + 1 < len(MODELS),
                "first_id": page[0]["id"],
                "last_id": page[-1]["id"],
            }
        )

    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.record(request, body)
        if (answer := refused(request)) is not None:
            return answer
        model = body.get("model")
        if "max_tokens" not in body:
            return error(400, "invalid_request_error", "max_tokens: Field required")
        if model == "broken-model":
            return error(500, "api_error", "The model crashed.")
        if model == "limited-model":
            return error(429, "rate_limit_error", "Number of requests has exceeded your rate limit")
        if model not in CHAT_MODELS:
            return error(404, "not_found_error", f"model: {model}")
        if not body.get("stream"):
            if model == "garbage-model":
                return web.Response(text="<html>oops</html>", content_type="text/html")
            return json_response(message(body))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, (event, data) in enumerate(events(body)):
            if i == 4 and model == "drop-model":
                await cut_connection(request)
            if i == 4 and model == "garbage-model":
                await response.write(b"event: content_block_delta\ndata: <<garbage>>\n\n")
                return response
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            if i == 3 and model == "slow-model":
                await wait_for_disconnect(state)
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/messages", messages)
    return app


def _prompt(body: dict[str, Any]) -> int:
    texts = [body.get("system", "")]
    for message in body["messages"]:
        content = message["content"]
        texts += (
            [content] if isinstance(content, str) else [block.get("text", "") for block in content]
        )
    return prompt_tokens(texts)


def message(body: dict[str, Any]) -> dict[str, Any]:
    """The non-streamed Message object."""
    if body.get("tools"):
        content = [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": body["tools"][0]["name"],
                "input": json.loads("".join(TOOL_ARGUMENTS)),
            }
        ]
        reason = "tool_use"
    else:
        content = [{"type": "text", "text": "".join(PIECES)}]
        reason = "end_turn"
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": {"input_tokens": _prompt(body), "output_tokens": len(PIECES)},
    }


def events(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The stream: message_start, ping, one content block, message_delta, message_stop."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": body["model"],
            "stop_reason": None,
            "usage": {"input_tokens": _prompt(body), "output_tokens": 1},
        },
    }
    out: list[tuple[str, dict[str, Any]]] = [("message_start", start), ("ping", {"type": "ping"})]
    if body.get("tools"):
        name = body["tools"][0]["name"]
        out.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": name,
                        "input": {},
                    },
                },
            )
        )
        out += [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in TOOL_ARGUMENTS
        ]
        reason = "tool_use"
    else:
        out.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        out += [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
            for piece in PIECES
        ]
        reason = "end_turn"
    out.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": len(PIECES)},
            },
        )
    )
    out.append(("message_stop", {"type": "message_stop"}))
    return out
