"""Open sockets follow their credentials: a sign-out, a password change or a disabled
account ends the sockets those credentials opened (each told why first), and no other;
a role change keeps the socket, with the actor as it now is. Through a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import socketio

from notewell.kernel.app import create_app
from notewell.testing.serving import serve_app

PASSWORD = "a long test passphrase"
WAIT_S = 15.0


class Tab:
    """A browser tab's socket, connected with a session token."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.ended: list[dict[str, Any]] = []
        self.client.on("session.ended", self.ended.append)

    async def open(self, url: str, token: str) -> Tab:
        await self.client.connect(url, auth={"token": token}, wait_timeout=WAIT_S)
        return self

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def server(settings: Any) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    app = create_app(settings)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield url, http


@pytest.fixture
async def tabs() -> AsyncIterator[Callable[[], Tab]]:
    made: list[Tab] = []

    def make() -> Tab:
        made.append(Tab())
        return made[-1]

    yield make
    await asyncio.gather(*(tab.client.disconnect() for tab in made if tab.connected))


async def sign_up(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await http.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    http.cookies.clear()  # each call below states its credentials
    body: dict[str, Any] = response.json()
    return body


async def sign_in(http: httpx.AsyncClient, email: str) -> str:
    response = await http.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_signing_out_ends_that_sessions_sockets_only(server, tabs) -> None:
    url, http = server
    await sign_up(http, "admin@example.com")
    alice = await sign_up(http, "alice@example.com")
    bob = await sign_up(http, "bob@example.com")
    other_session = await sign_in(http, "alice@example.com")

    signed_out = await tabs().open(url, alice["token"])
    still_in = await tabs().open(url, other_session)
    bobs = await tabs().open(url, bob["token"])

    response = await http.post("/api/v1/auth/signout", headers=bearer(alice["token"]))
    assert response.status_code == 204

    await until(lambda: not signed_out.connected)
    assert [event["data"]["code"] for event in signed_out.ended] == ["session_revoked"]
    await asyncio.sleep(0.3)  # the other sockets had the same chance to be dropped
    assert still_in.connected and bobs.connected
    assert still_in.ended == [] and bobs.ended == []


async def test_a_password_change_ends_the_other_sessions_sockets(server, tabs) -> None:
    url, http = server
    await sign_up(http, "admin@example.com")
    alice = await sign_up(http, "alice@example.com")
    elsewhere = await sign_in(http, "alice@example.com")
    here = await tabs().open(url, alice["token"])
    there = await tabs().open(url, elsewhere)

    response = await http.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=bearer(alice["token"]),
    )
    assert response.status_code == 204, response.text

    await until(lambda: not there.connected)
    await asyncio.sleep(0.3)
    assert here.connected


async def test_disabling_an_account_ends_its_sockets_and_a_role_change_keeps_them(
    server, tabs
) -> None:
    url, http = server
    admin = await sign_up(http, "admin@example.com")
    alice = await sign_up(http, "alice@example.com")
    bob = await sign_up(http, "bob@example.com")
    alices = await tabs().open(url, alice["token"])
    bobs = await tabs().open(url, bob["token"])
    as_admin = bearer(admin["token"])

    promoted = await http.patch(
        f"/api/v1/users/{bob['user']['id']}", json={"role": "admin"}, headers=as_admin
    )
    assert promoted.status_code == 200, promoted.text
    disabled = await http.patch(
        f"/api/v1/users/{alice['user']['id']}", json={"active": False}, headers=as_admin
    )
    assert disabled.status_code == 200, disabled.text

    await until(lambda: not alices.connected)
    assert alices.ended
    await asyncio.sleep(0.3)
    assert bobs.connected and bobs.ended == []
