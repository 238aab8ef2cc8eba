"""Fixtures for the chat plugin's tests: an app with the chat and providers plugins (and a
header-trusting identity plugin), a local OpenAI-compatible upstream, and helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notewell.kernel.actor import Actor
from notewell.kernel.hookspecs import hookimpl
from notewell.testing.actors import HeaderActors, as_actor

from .upstream import API_KEY, Upstream, serve

ADMIN = as_actor("root", "admin")
ALICE = as_actor("alice")
BOB = as_actor("bob")


@pytest.fixture
def settings(settings: Any) -> Any:
    """Chat and providers only; no embedded model unless a test asks for it."""
    return settings.model_copy(update={"plugins": ["chat", "providers"]})


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEWELL_PROVIDERS__LOCAL_MODELS", "false")
    monkeypatch.setenv("NOTEWELL_CHAT__AUTO_TITLE", "false")


class TestActors(HeaderActors):
    """``X-Test-Actor`` identities; users may use every model (auth's default)."""

    __name__ = "test_chat_actors"

    @hookimpl
    def permission_allowed(self, actor: Actor, action: str, resource: Any | None) -> bool | None:
        if action in ("use", "model.use"):
            return bool(actor.roles & {"user", "admin"})
        return None


@pytest.fixture
def plugins() -> list[Any]:
    return [TestActors()]


@pytest.fixture
async def upstream():
    async with serve(Upstream()) as state:
        yield state


async def connect(client: Any, upstream: Upstream, name: str = "up") -> None:
    """Add ``upstream`` as an OpenAI-compatible connection (as an admin)."""
    response = await client.post(
        "/api/v1/connections",
        json={"name": name, "type": "openai", "base_url": upstream.v1, "api_key": API_KEY},
        headers=ADMIN,
    )
    assert response.status_code == 201, await response.get_data(as_text=True)


@pytest.fixture
async def connected(client: Any, upstream: Upstream) -> Upstream:
    await connect(client, upstream)
    return upstream


class Api:
    """What most chat tests do, through HTTP."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def ok(self, response: Any, status: int = 200) -> Any:
        body = await response.get_data(as_text=True)
        assert response.status_code == status, body
        return json.loads(body) if body else None

    async def problem(self, response: Any, status: int, code: str) -> dict[str, Any]:
        body = await response.get_json()
        assert response.status_code == status, body
        assert response.content_type == "application/problem+json", body
        assert body["code"] == code, body
        return body

    async def new_chat(self, who: dict[str, str] = ALICE, **data: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/chats", json=data, headers=who)
        return await self.ok(response, 201)

    async def chat(self, chat_id: str, who: dict[str, str] = ALICE) -> dict[str, Any]:
        return await self.ok(await self.client.get(f"/api/v1/chats/{chat_id}", headers=who))

    async def send(
        self, chat_id: str, content: str, who: dict[str, str] = ALICE, **data: Any
    ) -> dict[str, Any]:
        """Send without streaming; the user message and the final answers."""
        response = await self.client.post(
            f"/api/v1/chats/{chat_id}/messages",
            json={"content": content, "stream": False, **data},
            headers=who,
        )
        return await self.ok(response, 201)

    async def stream(
        self, chat_id: str, content: str, who: dict[str, str] = ALICE, **data: Any
    ) -> list[tuple[str, Any]]:
        """Send with streaming; the Server-Sent Events as (event, data) pairs."""
        response = await self.client.post(
            f"/api/v1/chats/{chat_id}/messages", json={"content": content, **data}, headers=who
        )
        text = await response.get_data(as_text=True)
        assert response.status_code == 200, text
        assert response.content_type == "text/event-stream"
        return parse_sse(text)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of a Server-Sent Events body (comments skipped)."""
    found = []
    for block in text.split("\n\n"):
        event, data = "message", None
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            found.append((event, data))
    return found


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)
