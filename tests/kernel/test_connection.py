"""How a served request runs (``kernel/connection.py``), through a real server and socket:
a body arriving in pieces, a client leaving mid-request, the server going on serving."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quart import Blueprint, Response, request

from notewell.kernel import hookimpl, policy
from notewell.kernel.app import create_app
from notewell.testing.serving import serve_app

WAIT_S = 15.0


class Slow:
    """Routes that take their time, and tell the test what happened to them."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.finished = asyncio.Event()

    @hookimpl
    def register_routes(self) -> Blueprint:
        bp = Blueprint("slow", __name__, url_prefix="/slow")

        @bp.post("/echo")
        @policy.public
        async def echo() -> Response:
            return Response(await request.get_data(), content_type="application/octet-stream")

        @bp.get("/wait")
        @policy.public
        async def wait() -> dict[str, Any]:
            self.started.set()
            try:
                await asyncio.sleep(WAIT_S)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            self.finished.set()
            return {"ok": True}

        return bp


@pytest.fixture
async def served(settings: Any) -> AsyncIterator[tuple[Slow, str]]:
    slow = Slow()
    app = create_app(settings, plugins=[slow])
    async with serve_app(app) as url:
        yield slow, url


async def test_a_body_sent_in_pieces_arrives_whole(served: tuple[Slow, str]) -> None:
    _, url = served
    pieces = [bytes([n]) * 50_000 for n in range(1, 6)]

    async def upload() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{url}/slow/echo", content=upload())
    assert response.status_code == 200
    assert response.content == b"".join(pieces)


async def test_a_client_leaving_cancels_its_request_and_the_server_goes_on(
    served: tuple[Slow, str], caplog: pytest.LogCaptureFixture
) -> None:
    slow, url = served
    host, port = url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /slow/wait HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(slow.started.wait(), WAIT_S)

    with caplog.at_level(logging.ERROR):
        writer.close()
        await asyncio.wait_for(slow.cancelled.wait(), WAIT_S)
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{url}/health")

    assert not slow.finished.is_set()
    assert health.status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
