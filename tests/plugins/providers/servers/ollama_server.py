"""A fake Ollama: /api/tags, /api/chat (NDJSON stream), /api/embed.

Ollama itself checks no keys; this one stands for Ollama behind an authenticating
reverse proxy, so that the adapter's key handling is exercised too.
"""

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

TAGS = [
    {
        "name": "chat-model",
        "model": "chat-model",
        "size": 1,
        "digest": "abc",
        "details": {"family": "llama", "families": ["llama"], "parameter_size": "1B"},
    },
    {
        "name": "embed-model",
        "model": "embed-model",
        "size": 1,
        "digest": "def",
        "details": {"family": "nomic-bert", "families": ["nomic-bert"]},
    },
]
CHAT_MODELS = {"chat-model", "drop-model", "garbage-model", "slow-model"}


def make_app(state: ServerState) -> web.Application:
    """The app; what it saw goes into ``state``."""

    def refused(request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return json_response({"error": "unauthorized"}, 401)
        return None

    async def tags(request: web.Request) -> web.Response:
        return refused(request) or json_response({"models": TAGS})

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.record(request, body)
        model = body.get("model")
        if (answer := refused(request)) is not None:
            return answer
        if model == "broken-model":
            return json_response({"error": "llama runner process has terminated: crashed"}, 500)
        if model == "limited-model":
            return json_response(
                {"error": "too many requests"}, 429, **{"Retry-After": RETRY_AFTER}
            )
        if model not in CHAT_MODELS:
            return json_response({"error": f"model '{model}' not found"}, 404)
        lines = script(body)
        if not body.get("stream", True):
            if model == "garbage-model":
                return web.Response(text="<html>oops</html>", content_type="text/html")
            return json_response(whole(lines))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for i, line in enumerate(lines):
            if i == 1 and model == "drop-model":
                await cut_connection(request)
            if i == 1 and model == "garbage-model":
                await response.write(b"<<garbage>>\n")
                return response
            await response.write(json.dumps(line).encode() + b"\n")
            if i == 0 and model == "slow-model":
                await wait_for_disconnect(state)
        return response

    async def embed(request: web.Request) -> web.Response:
        body = await request.json()
        state.record(request, body)
        if (answer := refused(request)) is not None:
            return answer
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return json_response(
            {
                "model": body["model"],
                "embeddings": [vector_for(t) for t in texts],
                "prompt_eval_count": prompt_tokens(texts),
            }
        )

    app = web.Application()
    app.router.add_get("/api/tags", tags)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/embed", embed)
    return app


def whole(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed answer: one object with the whole message and the counts."""
    message = {
        "role": "assistant",
        "content": "".join(line["message"]["content"] for line in lines),
    }
    calls = [c for line in lines for c in line["message"].get("tool_calls", [])]
    if calls:
        message["tool_calls"] = calls
    return {**lines[-1], "message": message}


def script(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The NDJSON lines of an answer; the last has ``done`` and the counts."""
    base = {"model": body["model"], "created_at": "2026-01-01T00:00:00Z"}
    prompt = prompt_tokens([m.get("content") or "" for m in body["messages"]])
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        arguments = json.loads("".join(TOOL_ARGUMENTS))
        lines = [
            {
                **base,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": name, "arguments": arguments}}],
                },
                "done": False,
            }
        ]
    else:
        lines = [
            {**base, "message": {"role": "assistant", "content": piece}, "done": False}
            for piece in PIECES
        ]
    lines.append(
        {
            **base,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1000,
            "prompt_eval_count": prompt,
            "eval_count": len(PIECES),
        }
    )
    return lines
