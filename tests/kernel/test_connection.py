"""How a served request runs (``kernel/connection.py``), through a real server and socket:
a body arriving in pieces or stalling, a client leaving mid-request, the server going on
serving, whole and streamed bodies, ranges, the request's headers, and blueprint request
hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quart import Blueprint, Response, request, url_for

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

        @bp.get("/text")
        @policy.public
        async def text() -> Response:
            response = Response(b"0123456789", content_type="text/plain")
            return await response.make_conditional(request, accept_ranges=True, complete_length=10)

        @bp.get("/stream")
        @policy.public
        async def stream() -> Response:
            async def pieces() -> AsyncIterator[bytes]:
                for n in range(3):
                    yield f"piece {n}\n".encode()

            return Response(pieces(), content_type="text/plain")

        @bp.get("/where")
        @policy.public
        async def where() -> dict[str, Any]:
            return {"url": url_for("slow.where", _external=True), "x": request.args.get("x")}

        @bp.get("/headers")
        @policy.public
        async def headers() -> dict[str, Any]:
            return {
                "tags": request.headers.getlist("X-Tag"),
                "names": [name for name, _ in request.headers.items()],
                "remote": request.remote_addr,
                "length": request.content_length,
            }

        @bp.before_request
        def mark_sync() -> None:  # a plain function: Quart runs it in a thread
            request.marks = ["sync"]  # type: ignore[attr-defined]

        @bp.after_request
        async def add_marks(response: Response) -> Response:
            response.headers["X-Marks"] = ",".join(getattr(request, "marks", []))
            return response

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


async def test_whole_and_streamed_bodies_go_out_complete(served: tuple[Slow, str]) -> None:
    _, url = served
    async with httpx.AsyncClient() as http:
        whole = await http.get(f"{url}/slow/text")
        streamed = await http.get(f"{url}/slow/stream")
        ranged = await http.get(f"{url}/slow/text", headers={"Range": "bytes=2-5"})
    assert (whole.status_code, whole.content) == (200, b"0123456789")
    assert whole.headers["content-length"] == "10"
    assert streamed.content == b"piece 0\npiece 1\npiece 2\n"
    assert (ranged.status_code, ranged.content) == (206, b"2345")
    assert ranged.headers["content-length"] == "4"
    assert ranged.headers["content-range"] == "bytes 2-5/10"


async def test_a_blueprints_own_request_hooks_run_for_its_routes_only(
    served: tuple[Slow, str],
) -> None:
    _, url = served
    async with httpx.AsyncClient() as http:
        own = await http.get(f"{url}/slow/text")
        other = await http.get(f"{url}/health")
    assert own.headers["x-marks"] == "sync"
    assert "x-marks" not in other.headers


async def test_each_request_is_routed_with_its_own_host_and_query(
    served: tuple[Slow, str],
) -> None:
    _, url = served
    async with httpx.AsyncClient() as http:
        answers = [
            (await http.get(f"{url}/slow/where?x={n}", headers={"Host": host})).json()
            for n, host in enumerate(["Example.COM:80", "example.com:8080", "Example.COM:80"])
        ]
        unknown = await http.get(f"{url}/slow/nowhere")
    assert answers == [
        {"url": "http://example.com/slow/where", "x": "0"},
        {"url": "http://example.com:8080/slow/where", "x": "1"},
        {"url": "http://example.com/slow/where", "x": "2"},
    ]
    assert unknown.status_code == 404


async def test_a_request_sees_its_headers_as_sent(served: tuple[Slow, str]) -> None:
    _, url = served
    sent = [("x-tag", "first"), ("X-TAG", "second"), ("user-agent", "probe/1")]
    async with httpx.AsyncClient() as http:
        seen = (await http.get(f"{url}/slow/headers", headers=sent)).json()
    assert seen["tags"] == ["first", "second"]  # repeated headers kept, in order
    assert {"X-Tag", "User-Agent", "Host", "Remote-Addr"} <= set(seen["names"])
    assert seen["remote"] == "127.0.0.1"
    assert seen["length"] is None


async def test_a_body_that_stops_arriving_is_a_408(settings: Any) -> None:
    app = create_app(settings, plugins=[Slow()])
    app.config["BODY_TIMEOUT"] = 0.5
    async with serve_app(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST /slow/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\n".encode()
            + b"only part of it"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        writer.close()
    assert head.startswith(b"HTTP/1.1 408")
