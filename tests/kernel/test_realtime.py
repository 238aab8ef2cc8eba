"""The Socket.IO endpoint: authenticated connections, per-user rooms, bus events to
sockets, client events to plugin handlers — in process, and across two real
``notewell serve`` processes sharing one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from notewell.kernel import hookimpl
from notewell.kernel.app import NotewellApp, create_app
from notewell.kernel.events import Event
from notewell.testing.services import free_port
from notewell.testing.serving import serve_app

PLUGIN_DIR = Path(__file__).parent / "realtime_plugins"
WAIT_S = 15.0
QUIET_S = 1.0  # how long to keep listening to be sure nothing more arrives


class SocketUser:
    """A Socket.IO client that records every server event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.client.on("*", self._on_event)
        self.client.on("connect_error", self._on_refused)

    async def _on_event(self, event: str, data: Any) -> None:
        self.received.append((event, data))

    async def _on_refused(self, data: Any) -> None:
        self.refusal = data

    async def connect(self, url: str, token: str | None = None, **options: Any) -> SocketUser:
        auth = {"token": token} if token else None
        await self.client.connect(url, auth=auth, wait_timeout=WAIT_S, **options)
        return self

    def of_topic(self, topic: str) -> list[Any]:
        return [data for event, data in self.received if event == topic]

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


async def until(condition: Callable[[], Any], timeout: float = WAIT_S) -> None:
    """Wait until ``condition()`` is true (polling), or fail."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def sockets() -> AsyncIterator[Callable[[], SocketUser]]:
    """Make clients; disconnect them all at the end (a server waits for open sockets)."""
    made: list[SocketUser] = []

    def make() -> SocketUser:
        made.append(SocketUser())
        return made[-1]

    try:
        yield make
    finally:
        await asyncio.gather(*(user.close() for user in made))


# -- one server, in process ----------------------------------------------------------


@contextlib.asynccontextmanager
async def served(app: NotewellApp) -> AsyncIterator[str]:
    """Serve ``app`` on a free port as ``notewell serve`` does (its lifespan through ASGI)."""
    async with serve_app(app) as url:
        await wait_for_health(url)
        yield url


async def wait_for_health(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(60):
        while True:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"server at {url} exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


@pytest.fixture
async def server(settings: Any) -> AsyncIterator[tuple[NotewellApp, str]]:
    app = create_app(settings.model_copy(update={"plugin_dirs": [PLUGIN_DIR]}))
    async with served(app) as url:
        yield app, url


async def test_connection_without_credentials_is_refused(server):
    _, url = server
    async with sockets() as make:
        anonymous = make()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await anonymous.connect(url)
        assert anonymous.refusal["data"]["code"] == "not_authenticated"


async def test_connection_with_an_invalid_token_is_refused(server):
    _, url = server
    async with sockets() as make:
        forger = make()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await forger.connect(url, token="forged-token")
        assert forger.refusal["data"]["code"] == "invalid_token"


async def test_handshake_reaches_the_hook_with_token_as_bearer_header(server):
    app, url = server
    seen_requests = app.kernel.plugins.records["realtime_probe"].obj.SEEN_REQUESTS
    seen_requests.clear()
    async with sockets() as make:
        await make().connect(url, token="alice-token", headers={"Cookie": "theme=dark"})
    handshake = seen_requests[-1]
    assert handshake.headers["Authorization"] == "Bearer alice-token"
    assert handshake.cookies == {"theme": "dark"}
    assert handshake.remote_addr == "127.0.0.1"
    assert handshake.path.startswith("/socket.io")


async def test_user_event_reaches_that_users_sockets_only(server):
    app, url = server
    async with sockets() as make:
        alice = await make().connect(url, token="alice-token")
        alice_again = await make().connect(url, token="alice-token", transports=["websocket"])
        bob = await make().connect(url, token="bob-token")
        root = await make().connect(url, token="root-token")
        event = Event("probe.note", {"text": "hi"}, user_id="alice")
        await app.kernel.bus.publish(event)
        await until(lambda: alice.received and alice_again.received)
        await asyncio.sleep(QUIET_S)
    expected = [("probe.note", {"id": event.id, "topic": "probe.note", "data": {"text": "hi"}})]
    assert alice.received == expected
    assert alice_again.received == expected
    assert bob.received == []
    assert root.received == [], "an admin's tabs must not receive other people's events"


async def test_event_without_a_user_stays_on_the_bus(server):
    app, url = server
    async with sockets() as make:
        alice = await make().connect(url, token="alice-token")
        root = await make().connect(url, token="root-token")
        await app.kernel.bus.publish(Event("probe.system", {"level": "warn"}))
        await app.kernel.bus.publish(Event("probe.note", {"text": "x"}, user_id="root"))
        await until(lambda: root.received)
        await asyncio.sleep(QUIET_S)
    assert [event for event, _ in root.received] == ["probe.note"]
    assert alice.received == []


async def test_client_event_is_answered_by_the_plugin_handler(server):
    _, url = server
    async with sockets() as make:
        alice = await make().connect(url, token="alice-token")
        answer = await alice.client.call("probe.echo", {"x": 1}, timeout=WAIT_S)
        assert answer == {"actor": "alice", "data": {"x": 1}, "sid": alice.client.get_sid()}


async def test_handler_errors_come_back_as_error_acks(server):
    _, url = server
    async with sockets() as make:
        alice = await make().connect(url, token="alice-token")
        refused = await alice.client.call("probe.refuse", {}, timeout=WAIT_S)
        crashed = await alice.client.call("probe.crash", {}, timeout=WAIT_S)
        unknown = await alice.client.call("probe.nothing", {}, timeout=WAIT_S)
        echoed = await alice.client.call("probe.echo", "still here", timeout=WAIT_S)
    assert refused["error"]["code"] == "probe_forbidden"
    assert crashed["error"]["code"] == "internal_error"
    assert unknown["error"]["code"] == "unknown_event"
    assert echoed["data"] == "still here"  # one failure does not break the connection


async def test_handlers_of_a_disabled_plugin_are_not_called(server):
    app, url = server
    async with sockets() as make:
        alice = await make().connect(url, token="alice-token")
        app.kernel.plugins.set_enabled("realtime_echo", False)
        disabled = await alice.client.call("probe.echo", {}, timeout=WAIT_S)
        app.kernel.plugins.set_enabled("realtime_echo", True)
        enabled = await alice.client.call("probe.echo", {}, timeout=WAIT_S)
    assert disabled["error"]["code"] == "unknown_event"
    assert enabled["actor"] == "alice"


@pytest.mark.integration
async def test_with_redis_a_socket_gets_each_event_once(settings, redis_url):
    app = create_app(
        settings.model_copy(update={"plugin_dirs": [PLUGIN_DIR], "redis_url": redis_url})
    )
    async with served(app) as url, sockets() as make:
        alice = await make().connect(url, token="alice-token")
        await app.kernel.bus.publish(Event("probe.once", user_id="alice"))
        await until(lambda: alice.received)
        await asyncio.sleep(QUIET_S)
        async with httpx.AsyncClient() as http:
            ready = (await http.get(f"{url}/ready")).json()
    assert [event for event, _ in alice.received] == ["probe.once"]
    assert ready["checks"]["redis"] == "ok"


# -- the app stays a Quart app -------------------------------------------------------


async def test_quart_test_client_still_serves_routes(app):
    response = await app.test_client().get("/health")
    assert response.status_code == 200


async def test_asgi_lifespan_reaches_the_quart_app(settings):
    started: list[Any] = []

    class Watcher:
        @hookimpl
        def on_startup(self, app: Any) -> None:
            started.append(app)

    app = create_app(settings, plugins=[Watcher()])
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, inbox.get, send))  # type: ignore[arg-type]
    await until(lambda: sent)
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, WAIT_S)
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert started == [app]


# -- two `notewell serve` processes sharing one Redis ----------------------------------


def server_env(tmp_path: Path, name: str, redis_url: str, database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEWELL_")}
    env.update(
        NOTEWELL_DATA_DIR=str(tmp_path / name),
        NOTEWELL_DATABASE_URL=database_url,
        NOTEWELL_REDIS_URL=redis_url,
        NOTEWELL_PLUGIN_DIRS=str(PLUGIN_DIR),
        NOTEWELL_SECRET_KEY="realtime-test-secret-key",
        NOTEWELL_LOG_FORMAT="console",
        NOTEWELL_LOG_LEVEL="WARNING",
    )
    return env


@contextlib.asynccontextmanager
async def notewell_serve(tmp_path: Path, name: str, env: dict[str, str]) -> AsyncIterator[str]:
    """Run ``notewell serve`` on a free port until the block ends; yield its URL."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    executable = Path(sys.executable).parent / "notewell"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for_health(url, process)
        yield url
    finally:
        await asyncio.to_thread(_stop_process, process)
        print(f"--- {name} log ---\n{log_path.read_text()}")


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.integration
@pytest.mark.slow
async def test_event_published_through_one_server_reaches_a_socket_on_another(tmp_path, redis_url):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    env_a = server_env(tmp_path, "a", redis_url, database_url)
    env_b = server_env(tmp_path, "b", redis_url, database_url)
    async with (
        notewell_serve(tmp_path, "a", env_a) as server_a,
        notewell_serve(tmp_path, "b", env_b) as server_b,
        sockets() as make,
    ):
        alice_on_b = await make().connect(server_b, token="alice-token", transports=["websocket"])
        alice_on_a = await make().connect(server_a, token="alice-token", transports=["websocket"])
        bob_on_b = await make().connect(server_b, token="bob-token", transports=["websocket"])
        anonymous = make()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await anonymous.connect(server_b, transports=["websocket"])
        assert anonymous.refusal["data"]["code"] == "not_authenticated"

        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{server_a}/probe/events",
                json={"topic": "probe.across", "data": {"n": 1}},
                headers={"Authorization": "Bearer alice-token"},
            )
        assert response.status_code == 202
        event_id = response.json()["id"]

        await until(lambda: alice_on_b.received and alice_on_a.received)
        await asyncio.sleep(QUIET_S)

    expected = [{"id": event_id, "topic": "probe.across", "data": {"n": 1}}]
    assert alice_on_b.of_topic("probe.across") == expected
    assert alice_on_a.of_topic("probe.across") == expected
    assert bob_on_b.received == []
