"""Fixtures for the OpenAI-compatible API's tests: a real server (uvicorn on a free
port) with the auth, providers, ratelimit and openai_api plugins, an admin, an API key,
and the local OpenAI-compatible upstream as a connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from chat.served import served
from chat.upstream import API_KEY, Upstream, serve


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEWELL_PROVIDERS__LOCAL_MODELS", "false")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_MEMORY_COST", "8")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_PARALLELISM", "1")


@pytest.fixture
def settings(settings: Any) -> Any:
    return settings.model_copy(update={"plugins": ["auth", "providers", "ratelimit", "openai_api"]})


@pytest.fixture
def plugins() -> list[Any]:
    return []


@dataclass
class Server:
    """A served app with an admin whose API key reaches it."""

    app: Any
    base_url: str
    key: str
    token: str
    upstream: Upstream

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def upstream():
    async with serve(Upstream()) as state:
        yield state


@pytest.fixture
async def server(settings, plugins, upstream):
    async with served(settings, plugins) as (app, base), httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/api/v1/auth/signup",
            json={"email": "admin@example.com", "password": "correct horse battery"},
        )
        assert response.status_code == 201, response.text
        token = response.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        response = await http.post("/api/v1/auth/keys", json={"name": "tests"}, headers=bearer)
        assert response.status_code == 201, response.text
        key = response.json()["key"]
        response = await http.post(
            "/api/v1/connections",
            json={"name": "up", "type": "openai", "base_url": upstream.v1, "api_key": API_KEY},
            headers=bearer,
        )
        assert response.status_code == 201, response.text
        yield Server(app, base, key, token, upstream)


@pytest.fixture
async def openai_client(server: Server):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.v1, api_key=server.key, max_retries=0, timeout=30)
    yield client
    await client.close()
