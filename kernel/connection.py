"""How the app serves one HTTP request over ASGI: Quart's way, with fewer tasks.

Quart runs every request as two new tasks joined by ``asyncio.wait`` (the handler, and a
receiver that reads the body and watches for the client leaving), then sends the
response under ``asyncio.wait_for``, a third task. Each costs the event loop a task to
create, schedule and join: together about 5% of a proxied completion's CPU (the
``asyncio`` share of the server's profile fell from 15% to 8%). Here the handler
runs in the server's own task for the request and the response is sent under
``asyncio.timeout``; only the receiver is a task of its own, because the body may still
be arriving while the handler runs and the client leaving must still cancel the handler
(an upstream call stops when its caller has gone).

A response whose body is in memory (most of the API's) goes out as its head and one body
message, with no timeout around them: the server writes each at once and waits for
nothing, as Starlette sends its responses. Quart would iterate the body under a timeout
and end it with an empty third message. Streamed bodies keep Quart's way, under
``RESPONSE_TIMEOUT``.

The request is Quart's, built with its headers as one list: Quart adds them one at a
time, searching each value for line breaks that the server's HTTP parser has already
refused.

:class:`NotewellRequest` is Quart's request with two costs removed. Reading the body
awaits it under ``asyncio.timeout`` (Quart's ``asyncio.wait_for`` made a task for every
read on Python 3.11). The matched
blueprints are worked out once per request, not on each of the four times Quart asks.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, cast

from quart.asgi import ASGIHTTPConnection, _handle_exception
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestTimeout


class HTTPConnection(ASGIHTTPConnection):
    """One HTTP request, handled in the server's task (``Quart.asgi_http_class``)."""

    _finished = False
    _left = False

    async def __call__(self, receive: Any, send: Any) -> None:
        request = self._create_request_from_scope(send)
        handler = asyncio.current_task()
        assert handler is not None
        receiver = asyncio.get_running_loop().create_task(self._receive(request, receive, handler))
        try:
            await self.handle_request(request, send)
        except asyncio.CancelledError:
            if not self._left:
                raise  # cancelled from outside (the server stopping): not ours to swallow
        finally:
            self._finished = True
            receiver.cancel()
            if self._left:
                handler.uncancel()  # the client left: the request ends here, quietly
        if receiver.done() and not receiver.cancelled() and receiver.exception():
            raise cast(BaseException, receiver.exception())

    def _create_request_from_scope(self, send: Any) -> Request:
        """Quart's request, with its headers listed at once: added one at a time, each
        value was searched for line breaks that the server's HTTP parser has already
        refused. Other cases (HTTP/1.0, a root path, an absolute-form path) are
        Quart's."""
        scope = self.scope
        path = scope["path"]
        if scope["http_version"] < "1.1" or scope.get("root_path") or path[:1] != "/":
            return super()._create_request_from_scope(send)
        headers = Headers()
        headers._list = [
            ("Remote-Addr", (scope.get("client") or ["<local>"])[0]),
            *[
                (name.decode("latin1").title(), value.decode("latin1"))
                for name, value in scope["headers"]
            ],
        ]
        config = self.app.config
        return self.app.request_class(
            scope["method"],
            scope["scheme"],
            path,
            scope["query_string"],
            headers,
            "",
            scope["http_version"],
            max_content_length=config["MAX_CONTENT_LENGTH"],
            body_timeout=config["BODY_TIMEOUT"],
            send_push_promise=partial(self._send_push_promise, send),
            scope=scope,
        )

    async def _receive(self, request: Request, receive: Any, handler: asyncio.Task[Any]) -> None:
        """Feed the body to the request; if the client leaves (or the server's receive
        fails) before the response has been sent, cancel the handler, as Quart does."""
        try:
            while True:
                message = await receive()
                if message["type"] == "http.request":
                    request.body.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        request.body.set_complete()
                elif message["type"] == "http.disconnect":
                    self._leave(handler)
                    return
        except Exception:
            self._leave(handler)
            raise  # raised again by __call__, once the handler has stopped

    def _leave(self, handler: asyncio.Task[Any]) -> None:
        if not self._finished:
            self._left = True
            handler.cancel()

    async def handle_request(self, request: Request, send: Any) -> None:
        try:
            response = await self.app.handle_request(request)
        except Exception as error:
            response = await _handle_exception(self.app, error)
        if isinstance(response, Response) and type(response.response) is DataBody:
            await self._send_whole(send, response, response.response)
            self._finished = True
            return
        if isinstance(response, Response) and response.timeout != Ellipsis:
            timeout = cast(float | None, response.timeout)
        else:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
        try:
            async with asyncio.timeout(timeout):
                await self._send_response(send, response)
        except TimeoutError:
            pass
        self._finished = True

    async def _send_whole(self, send: Any, response: Response, body: DataBody) -> None:
        """The head, then the body (its range, after a conditional request) in one message."""
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": encode_headers(response.headers),
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": body.data[body.begin : body.end],
                "more_body": False,
            }
        )


class NotewellRequest(Request):
    """Quart's request, cheaper to read (see the module docstring)."""

    _blueprints: tuple[Any, list[str]] | None = None

    async def get_data(  # type: ignore[override]
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> str | bytes:
        if parse_form_data:
            return await super().get_data(cache, as_text, parse_form_data)
        try:
            async with asyncio.timeout(self.body_timeout):
                raw: bytes = await self.body
        except TimeoutError as error:
            raise RequestTimeout() from error
        if not cache:
            self.body.clear()
        return raw.decode() if as_text else raw

    @property
    def blueprints(self) -> list[str]:
        known = self._blueprints
        if known is None or known[0] is not self.url_rule:
            known = self._blueprints = (self.url_rule, super().blueprints)
        return known[1]
