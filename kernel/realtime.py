"""The real-time endpoint: Socket.IO (python-socketio, ASGI) mounted beside the Quart app.

- **Who.** A connection is authenticated by the same ``actor_from_request`` hook as an
  HTTP request, given a :class:`~notewell.kernel.http.RequestInfo` built from the
  handshake; a token in the ``auth`` payload (``{"token": ...}``) is presented as an
  ``Authorization: Bearer`` header. Anonymous connections are refused.
- **Rooms.** Each connection joins ``user:<actor id>``; admins also join ``admins``.
- **Server → client.** A bus event that names a user is emitted to ``user:<user_id>``
  only — not to admins: their tabs must not receive other people's chats — as the
  Socket.IO event ``<topic>`` with
  ``{"id", "topic", "data"}``.
- **Client → server.** Events are dispatched to the handlers plugins return from
  ``register_socket_handlers`` (disabled plugins' handlers are skipped); the handler's
  return value is the acknowledgement.
- **Credentials that change.** A connection keeps the actor it connected as. When a
  user's credentials or roles change (signed out, password changed, account disabled,
  roles edited), the authenticating plugin calls :meth:`Realtime.recheck` in every
  process: each of that user's connections there is authenticated again from its
  handshake. One whose credentials no longer hold is told (``session.ended``) and
  disconnected; the others carry the actor as it now is, in its current rooms.

With Redis configured the server uses ``socketio.AsyncRedisManager``, so that replicas
can reach each other's clients. The bus already brings every event to every replica,
so each replica forwards events to its own clients only (``ignore_queue``); otherwise
a client would get each event once per replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.http import parse_cookie

from notewell.kernel.actor import Actor
from notewell.kernel.errors import NotewellError, Unauthorized
from notewell.kernel.events import Event
from notewell.kernel.http import RequestInfo
from notewell.kernel.ids import new_id
from notewell.kernel.logs import request_id_var
from notewell.kernel.plugins import resolve

if TYPE_CHECKING:
    from notewell.kernel.app import Kernel, NotewellApp

log = logging.getLogger("notewell.realtime")

SOCKET_PATH = "socket.io"
ADMINS_ROOM = "admins"
MANAGER_CHANNEL = "notewell:socketio"
EXTENSION = "notewell.realtime"
SESSION_ENDED = "session.ended"
"""The event a connection gets just before the server ends it for its credentials."""


def user_room(user_id: str) -> str:
    """The room every connection of user ``user_id`` joins."""
    return f"user:{user_id}"


def rooms_of(actor: Actor) -> list[str]:
    """The rooms a connection of ``actor`` joins."""
    rooms = [user_room(str(actor.id))]
    if actor.is_admin:
        rooms.append(ADMINS_ROOM)
    return rooms


def rooms_for(event: Event) -> list[str]:
    """The rooms ``event`` is emitted to: its user's only.

    Events that name no user are the servers' own signals (cache invalidation, plugin
    switches, cancellations) and stay on the bus.
    """
    if event.user_id is None:
        return []
    return [user_room(event.user_id)]


def request_info(environ: Mapping[str, Any], auth: Any) -> RequestInfo:
    """The Socket.IO handshake as ``actor_from_request`` sees it.

    Headers, cookies and the peer address come from the ASGI scope; ``auth["token"]``,
    when given, becomes the ``Authorization: Bearer`` header.
    """
    scope: Mapping[str, Any] = environ.get("asgi.scope") or {}
    headers = Headers(
        [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        ]
    )
    token = auth.get("token") if isinstance(auth, Mapping) else None
    if isinstance(token, str) and token:
        headers.set("Authorization", f"Bearer {token}")
    client = scope.get("client")
    return RequestInfo(
        headers=headers,
        cookies=dict(parse_cookie(headers.get("Cookie", ""))),
        remote_addr=client[0] if client else None,
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("PATH_INFO", "/")),
    )


def _error_ack(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": request_id}}


class Realtime:
    """The Socket.IO server of one app, fed by its kernel's event bus.

    python-socketio (with the client libraries it imports) is loaded when the first
    socket request arrives, not at start-up: until a socket connects there is nobody to
    forward events to.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._sio: Any = None
        self._socket_app: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._started = False

    @property
    def sio(self) -> Any:
        """The Socket.IO server, built on first use."""
        if self._sio is None:
            import socketio  # type: ignore[import-untyped]

            manager = None
            if self.kernel.settings.redis_url:
                manager = socketio.AsyncRedisManager(
                    self.kernel.settings.redis_url, channel=MANAGER_CHANNEL
                )
            self._sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
            self._sio.on("connect", self.connect)
            self._sio.on("*", self.dispatch)
            self._forward_events()
        return self._sio

    def wrap(self, app_asgi: Any) -> Any:
        """An ASGI app that sends ``/socket.io/…`` to Socket.IO and the rest to ``app_asgi``."""
        prefix = f"/{SOCKET_PATH}/"

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket") and scope["path"].startswith(prefix):
                if self._socket_app is None:
                    import socketio

                    self._socket_app = socketio.ASGIApp(
                        self.sio, other_asgi_app=app_asgi, socketio_path=SOCKET_PATH
                    )
                await self._socket_app(scope, receive, send)
            else:
                await app_asgi(scope, receive, send)

        return asgi

    async def start(self) -> None:
        """Forward bus events to sockets from now on — once there is a socket server:
        until a socket first connects to this process, nobody here can receive them,
        and every event would still cost a queue hop (a pipeline step publishes two)."""
        self._started = True
        if self._sio is not None:
            self._forward_events()

    def _forward_events(self) -> None:
        if self._started and self._unsubscribe is None:
            self._unsubscribe = self.kernel.bus.subscribe(self.forward)

    async def stop(self) -> None:
        """Stop forwarding and end the Socket.IO server's background tasks."""
        self._started = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sio is not None:
            await self._sio.shutdown()
            await _close_manager(self._sio.manager)

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Authenticate a new connection and put it in its rooms; refuse anonymous ones."""
        request = request_info(environ, auth)
        actor = await self._authenticate(request)
        await self.sio.save_session(sid, {"actor": actor, "request": request})
        for room in rooms_of(actor):
            await self.sio.enter_room(sid, room)

    async def recheck(self, user_id: str) -> None:
        """Authenticate this process's connections of ``user_id`` again, from their
        handshakes: disconnect those whose credentials no longer hold (after a
        ``session.ended`` event saying why), and give the others the actor as it now is
        and its rooms. For the authenticating plugin to call, in every process, once
        its own caches have forgotten the user."""
        if self._sio is None:
            return  # no socket has connected to this process
        sids = [sid for sid, _ in self._sio.manager.get_participants("/", user_room(user_id))]
        for sid in sids:
            session = await self._sio.get_session(sid)
            before: Actor = session["actor"]
            try:
                actor = await self._actor_of(session["request"])
            except NotewellError as error:  # signed out, revoked, disabled
                ended = {"code": error.code, "message": error.message}
                payload = {"id": new_id(), "topic": SESSION_ENDED, "data": ended}
                await self._sio.emit(SESSION_ENDED, payload, to=sid, ignore_queue=True)
                await self._sio.disconnect(sid, ignore_queue=True)
                continue
            await self._sio.save_session(sid, {**session, "actor": actor})
            for room in set(rooms_of(before)) - set(rooms_of(actor)):
                await self._sio.leave_room(sid, room)
            for room in set(rooms_of(actor)) - set(rooms_of(before)):
                await self._sio.enter_room(sid, room)

    async def _authenticate(self, request: RequestInfo) -> Actor:
        """The actor of a handshake; Socket.IO's refusal when there is none."""
        try:
            return await self._actor_of(request)
        except NotewellError as error:
            raise _refused(error.message, error.code) from None

    async def _actor_of(self, request: RequestInfo) -> Actor:
        """The authenticated actor of ``request``; 401 when its credentials are absent or
        invalid."""
        actor: Actor | None = await self.kernel.plugins.afirst(
            "actor_from_request", request=request
        )
        if actor is None or not actor.is_authenticated:
            raise Unauthorized("Sign in to connect.", code="not_authenticated")
        return actor

    async def forward(self, event: Event) -> None:
        """Emit a bus event to this replica's sockets in its rooms."""
        rooms = rooms_for(event)
        if not rooms:
            return
        payload = {"id": event.id, "topic": event.topic, "data": event.data}
        if self._sio is None:
            return  # no socket has connected to this process
        await self._sio.emit(event.topic, payload, to=rooms, ignore_queue=True)

    async def dispatch(self, event: str, sid: str, *args: Any) -> Any:
        """Run the plugin handler for a client event; its return value is the ack."""
        request_id = new_id()
        request_id_var.set(request_id)
        handler = self._handler_for(event)
        if handler is None:
            return _error_ack("unknown_event", f"No handler for {event!r}.", request_id)
        session = await self.sio.get_session(sid)
        data = args[0] if len(args) == 1 else (list(args) or None)
        try:
            return await resolve(handler(actor=session["actor"], data=data, sid=sid))
        except NotewellError as error:
            return _error_ack(error.code, error.message, request_id)
        except Exception:  # a plugin's bug: logged once, answered like a 500
            log.exception("socket handler for %r failed", event)
            return _error_ack("internal_error", "The server could not handle this.", request_id)

    def _handler_for(self, event: str) -> Callable[..., Any] | None:
        plugins = self.kernel.plugins
        for name, handlers in plugins.call_with_names("register_socket_handlers"):
            if plugins.is_enabled(name) and isinstance(handlers, Mapping) and event in handlers:
                handler: Callable[..., Any] = handlers[event]
                return handler
        return None


def _refused(message: str, code: str) -> Exception:
    from socketio.exceptions import ConnectionRefusedError  # type: ignore[import-untyped]

    refused: Exception = ConnectionRefusedError(message, {"code": code})
    return refused


async def _close_manager(manager: Any) -> None:
    """End the Redis manager's listener task and connection (python-socketio leaves
    them running after ``shutdown``)."""
    listener = getattr(manager, "thread", None)
    if listener is not None:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    redis = getattr(manager, "redis", None)
    if redis is not None:
        await redis.aclose()


def install(app: NotewellApp) -> Realtime:
    """Mount the Socket.IO endpoint at ``/socket.io`` beside ``app`` and tie it to the
    app's lifespan. ``app`` stays the Quart app (its test client still works) and ASGI
    lifespan events still reach it."""
    realtime = Realtime(app.kernel)
    app.kernel.realtime = realtime
    app.asgi_app = realtime.wrap(app.asgi_app)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = realtime
    app.before_serving(realtime.start)
    app.after_serving(realtime.stop)
    return realtime


def realtime_of(app: NotewellApp) -> Realtime:
    """The real-time endpoint installed on ``app``."""
    realtime: Realtime = app.extensions[EXTENSION]
    return realtime
