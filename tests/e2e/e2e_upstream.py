"""A tiny OpenAI-compatible model server for the browser tests, run in a thread.

It speaks the same wire protocol as the providers plugin's fake upstream
(``tests/plugins/providers/servers/openai_server.py``: ``GET /v1/models``, ``POST
/v1/chat/completions`` streamed as SSE chunks ending in ``data: [DONE]``), but its
answer is whatever a test puts in ``reply`` — e.g. markup that must not run in the
page — sent in a few pieces so the browser sees it stream. A model whose id contains
``slow`` answers in ``slow_pieces`` pieces, ``slow_delay_s`` apart (for stopping).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "e2e-upstream-key"


@dataclass
class Upstream:
    """What the server answers, and what it was asked."""

    models: list[str] = field(default_factory=lambda: ["e2e-chat", "e2e-embed"])
    reply: str = "Hello from the e2e upstream."
    pieces: int = 4
    delay_s: float = 0.05
    slow_pieces: int = 60
    slow_delay_s: float = 0.25
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def split(self, model: str) -> tuple[list[str], float]:
        """The pieces of the answer ``model`` gives, and the pause before each."""
        if "slow" in model:
            return [f"word{i} " for i in range(self.slow_pieces)], self.slow_delay_s
        size = max(1, -(-len(self.reply) // self.pieces))
        return [self.reply[i : i + size] for i in range(0, len(self.reply), size)], self.delay_s


def _app(upstream: Upstream) -> web.Application:
    def authorized(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    def refused() -> web.Response:
        body = {
            "error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
        }
        return web.json_response(body, status=401)

    async def models(request: web.Request) -> web.Response:
        if not authorized(request):
            return refused()
        data = [{"id": name, "object": "model", "owned_by": "e2e"} for name in upstream.models]
        return web.json_response({"object": "list", "data": data})

    async def completions(request: web.Request) -> web.StreamResponse:
        if not authorized(request):
            return refused()
        body = await request.json()
        upstream.requests.append(body)
        base = {
            "id": "chatcmpl-e2e",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": upstream.reply}
            return web.json_response(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {text}\n\n".encode())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        await send(chunk({"role": "assistant", "content": ""}))
        pieces, delay = upstream.split(body["model"])
        for piece in pieces:
            await asyncio.sleep(delay)
            await send(chunk({"content": piece}))
        await send(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 3, "completion_tokens": upstream.pieces, "total_tokens": 7}
            await send({**base, "choices": [], "usage": usage})
        await send("[DONE]")
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    return app


@contextmanager
def running(upstream: Upstream | None = None) -> Iterator[Upstream]:
    """Serve ``upstream`` on 127.0.0.1 on a free port until the block ends."""
    upstream = upstream or Upstream()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(_app(upstream), handle_signals=False, shutdown_timeout=0.5)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        upstream.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, name="e2e-upstream", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the e2e upstream did not start")
    try:
        yield upstream
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def connected(admin_api: Any, upstream: Upstream, name: str) -> Iterator[Upstream]:
    """``upstream`` served and added (through ``admin_api``) as the connection ``name``,
    its models prefixed ``e2e/``; the connection is removed when the block ends."""
    with running(upstream) as served:
        made = admin_api.post(
            "/api/v1/connections",
            json={
                "name": name,
                "type": "openai",
                "base_url": served.base_url,
                "api_key": API_KEY,
                "prefix": "e2e/",
            },
        )
        assert made.status_code == 201, made.text
        try:
            yield served
        finally:
            admin_api.delete(f"/api/v1/connections/{made.json()['id']}")
