"""Shared pieces of the fake upstreams: starting one on a free port, and the scripted
behaviour every protocol follows, chosen by the model name a request asks for.

- ``chat-model``: answers with :data:`PIECES` (a tool call to the first tool when the
  request offers tools), usage at the end.
- ``broken-model``: an error body with status 500.
- ``limited-model``: 429 with ``Retry-After: 7``.
- ``drop-model``: two pieces, then the connection is cut.
- ``garbage-model``: two pieces, then something that is not the protocol.
- ``slow-model``: one piece, then waits until the client goes away (sets ``disconnected``).
- ``embed-model``: embeddings; an 8-number vector derived from the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "test-key"
PIECES = ["Hello", " from", " the", " fake", " upstream."]
TOOL_ARGUMENTS = ['{"city": ', '"Paris"}']
RETRY_AFTER = "7"


@dataclass
class ServerState:
    """What a fake upstream saw, for tests to assert on."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""
    model_lists: int = 0

    def record(self, request: web.Request, body: Any) -> None:
        self.requests.append(body if isinstance(body, dict) else {"body": body})
        self.headers.append({k.lower(): v for k, v in request.headers.items()})


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port; yield its base URL."""
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def prompt_tokens(texts: list[str]) -> int:
    """A stand-in token count: words in the prompt."""
    return sum(len(text.split()) for text in texts)


def vector_for(text: str) -> list[float]:
    """A deterministic 8-number vector for ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(byte / 255, 4) for byte in digest[:8]]


async def cut_connection(request: web.Request) -> None:
    """Drop the TCP connection in the middle of a response (no end of chunked body)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    await asyncio.sleep(3600)  # cancelled as the connection is lost


async def wait_for_disconnect(state: ServerState) -> None:
    """Hang until the client closes the connection, then note it."""
    try:
        await asyncio.sleep(3600)
    finally:
        state.disconnected.set()


def json_response(payload: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(payload),
        status=status,
        content_type="application/json",
        headers=headers,
    )
