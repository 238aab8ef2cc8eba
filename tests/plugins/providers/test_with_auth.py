"""With the real auth plugin: approved users may use every model by default, and
``default_deny: model`` makes models grant-only."""

from __future__ import annotations

import pytest

from notewell.kernel.actor import Actor

LOCAL_CHAT = "local/smollm2-135m-instruct"


@pytest.fixture(autouse=True)
def auth_env(monkeypatch):
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_MEMORY_COST", "8")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_PARALLELISM", "1")
    monkeypatch.setenv("NOTEWELL_AUTH__DEFAULT_ROLE", "user")


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"plugins": ["auth", "providers"]})


@pytest.fixture
def plugins():
    return []


async def signup(app, email: str):
    client = app.test_client()
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": "correct horse battery", "name": email},
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return client


async def model_ids(client) -> set[str]:
    response = await client.get("/api/v1/models")
    assert response.status_code == 200, await response.get_data(as_text=True)
    return {m["id"] for m in (await response.get_json())["data"]}


async def test_approved_users_may_use_every_model_by_default(app):
    admin = await signup(app, "admin@example.test")
    user = await signup(app, "user@example.test")
    assert LOCAL_CHAT in await model_ids(admin)
    assert LOCAL_CHAT in await model_ids(user)


async def test_default_deny_model_makes_models_grant_only(make_app, monkeypatch):
    monkeypatch.setenv("NOTEWELL_AUTH__DEFAULT_DENY", '["model"]')
    async with make_app() as app:
        admin = await signup(app, "admin@example.test")
        user = await signup(app, "user@example.test")
        assert LOCAL_CHAT in await model_ids(admin)
        assert await model_ids(user) == set()
        gateway = app.kernel.plugins.first("model_gateway_from_kernel", kernel=app.kernel)
        someone = Actor(id="x", kind="user", roles=frozenset({"user"}))
        with pytest.raises(Exception) as caught:
            await gateway.embed(someone, "local/all-minilm-l6-v2", ["text"])
        assert caught.value.code == "model_forbidden"
