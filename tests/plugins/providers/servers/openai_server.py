"""A fake OpenAI-compatible upstream: /v1/models, /v1/chat/completions, /v1/embeddings."""

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
    vector_for,
    wait_for_disconnect,
)

MODELS = [
    {"id": "chat-model", "object": "model", "owned_by": "fake", "context_length": 8192},
    {"id": "text-embedding-fake", "object": "model", "owned_by": "fake"},
]


def error(status: int, message: str, type_: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": type_, "code": code, "param": None}}
    headers = {"Retry-After": RETRY_AFTER} if status == 429 else {}
    return json_response(body, status, **headers)


def make_app(state: ServerState) -> web.Application:
    """The app; what it saw goes into ``state``."""

    def authorized(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    async def models(request: web.Request) -> web.Response:
        state.model_lists += 1
        if not authorized(request):
            return error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        return json_response({"object": "list", "data": MODELS})

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.record(request, body)
        if not authorized(request):
            return error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        model = body.get("model")
        if model == "broken-model":
            return error(500, "The model crashed.", "server_error")
        if model == "limited-model":
            return error(429, "Rate limit reached for requests.", "requests", "rate_limit")
        if model not in {"chat-model", "drop-model", "garbage-model", "slow-model"}:
            return error(
                404,
                f"The model `{model}` does not exist.",
                "invalid_request_error",
                "model_not_found",
            )
        if body.get("stream"):
            return await stream(request, body)
        if model == "garbage-model":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        return json_response(completion(body))

    async def stream(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        model = body["model"]

        async def send(payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {text}\n\n".encode())

        for i, chunk in enumerate(chunks(body)):
            if i == 2 and model == "drop-model":
                await cut_connection(request)
            if i == 2 and model == "garbage-model":
                await send("{this is not json")
                break
            await send(chunk)
            if model == "slow-model" and i == 1:
                await wait_for_disconnect(state)
        await send("[DONE]")
        return response

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        state.record(request, body)
        if not authorized(request):
            return error(401, "Incorrect API key provided.", "invalid_request_error")
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": vector_for(t)}
            for i, t in enumerate(texts)
        ]
        tokens = prompt_tokens(texts)
        return json_response(
            {
                "object": "list",
                "data": list(reversed(data)),
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


def _texts(body: dict[str, Any]) -> list[str]:
    return [m.get("content") or "" for m in body["messages"] if isinstance(m.get("content"), str)]


def _usage(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    prompt = prompt_tokens(_texts(body))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def completion(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(PIECES)}
    finish = "stop"
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": "".join(TOOL_ARGUMENTS)},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(body, len(PIECES)),
    }


def chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream's chunks: role, pieces (or tool-call fragments), finish, then usage."""
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": body["model"],
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
            for part in TOOL_ARGUMENTS
        ]
        out.append(chunk({}, "tool_calls"))
    else:
        out += [chunk({"content": piece}) for piece in PIECES]
        out.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": _usage(body, len(PIECES))})
    return out
