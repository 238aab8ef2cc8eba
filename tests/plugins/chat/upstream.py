"""A local OpenAI-compatible upstream for chat and /v1 tests, scripted by model name.

- ``echo``: answers ``"You said: <last user message>"`` word by word;
- ``slow``: ``state.pieces`` pieces, ``state.delay`` seconds apart (for disconnects,
  re-attaching and stopping while an answer streams);
- ``tools``: a tool call to the first tool offered;
- ``broken``: 500 with an OpenAI error body; ``limited``: 429 with Retry-After;
- ``drop``: two pieces, then the connection is cut;
- ``garbage``: two pieces, then something that is not JSON;
- ``hang``: the headers, then silence (for read timeouts);
- any model: a prompt longer than ``state.context_chars`` gets OpenAI's 400
  ``context_length_exceeded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "upstream-key"
MODELS = ["echo", "slow", "tools", "broken", "limited", "drop", "garbage", "hang", "embedder"]


@dataclass
class Upstream:
    """What the upstream saw and how it behaves."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    pieces: int = 40
    delay: float = 0.05
    context_chars: int = 50_000
    disconnects: int = 0
    finished_streams: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"


def _error(
    status: int, message: str, type_: str, code: str | None = None, **headers: str
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def pieces_for(state: Upstream, body: dict[str, Any]) -> list[str]:
    """What ``body``'s model answers, piece by piece."""
    if body["model"] == "slow":
        return [f"w{i} " for i in range(state.pieces)]
    words = f"You said: {_last_user(body)}".split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return json.dumps(payload)


def _usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def make_app(state: Upstream) -> web.Application:
    async def models(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        data = [{"id": name, "object": "model", "owned_by": "test"} for name in MODELS]
        return web.json_response({"object": "list", "data": data})

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.requests.append(body)
        model = body.get("model")
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [])
        if prompt > state.context_chars:
            return _error(
                400,
                "This model's maximum context length was exceeded.",
                "invalid_request_error",
                "context_length_exceeded",
            )
        if model == "broken":
            return _error(500, "The model crashed.", "server_error")
        if model == "limited":
            return _error(
                429,
                "Rate limit reached.",
                "requests",
                "rate_limit_exceeded",
                **{"Retry-After": "7"},
            )
        if model not in MODELS:
            return _error(
                404,
                f"The model `{model}` does not exist.",
                "invalid_request_error",
                "model_not_found",
            )
        if body.get("stream"):
            return await _stream(request, body)
        return web.json_response(_completion(state, body))

    async def _stream(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        state.started.set()
        try:
            async for line in _lines(state, body, request):
                await response.write(f"data: {line}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            state.disconnects += 1
            raise
        state.finished_streams += 1
        return response

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.5]}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return web.json_response(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


async def _lines(state: Upstream, body: dict[str, Any], request: web.Request) -> AsyncIterator[str]:
    model = body["model"]
    yield _chunk(body, {"role": "assistant", "content": ""})
    if model == "hang":
        await asyncio.sleep(3600)
    if model == "tools" and body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": name, "arguments": '{"city": "Paris"}'},
        }
        yield _chunk(body, {"tool_calls": [call]})
        yield _chunk(body, {}, "tool_calls")
    else:
        pieces = pieces_for(state, body)
        for index, piece in enumerate(pieces):
            if index == 2 and model == "drop":
                if request.transport is not None:
                    request.transport.abort()
                await asyncio.sleep(3600)
            if index == 2 and model == "garbage":
                yield "{this is not json"
                return
            yield _chunk(body, {"content": piece})
            if model == "slow":
                await asyncio.sleep(state.delay)
        yield _chunk(body, {}, "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = _usage(body, len(pieces_for(state, body)))
        yield json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    yield "[DONE]"


def _completion(state: Upstream, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces_for(state, body))}
    finish = "stop"
    if body["model"] == "tools" and body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": '{"city": "Paris"}'},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(body, len(pieces_for(state, body))),
    }


@contextlib.asynccontextmanager
async def serve(state: Upstream) -> AsyncIterator[Upstream]:
    """Run the upstream on a free port of 127.0.0.1 for the block."""
    runner = web.AppRunner(
        make_app(state), handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()
