"""End to end with the real auth plugin and the embedded local model: a new user, on a
server with no connection configured, chats and gets a streamed answer; deleting the
user deletes their chats (``on_user_deleted``)."""

from __future__ import annotations

import pytest

from .conftest import Api, parse_sse

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _real_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEWELL_PROVIDERS__LOCAL_MODELS", "true")
    monkeypatch.setenv("NOTEWELL_AUTH__DEFAULT_ROLE", "user")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_MEMORY_COST", "8")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_PARALLELISM", "1")


@pytest.fixture
def plugins() -> list:
    return []  # the auth plugin decides who is who


async def signup(app, email: str) -> tuple[object, dict[str, str], dict]:
    client = app.test_client()
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": email}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    csrf = next(c.value for c in client.cookie_jar if c.name == "notewell_csrf")
    return client, {"X-CSRF-Token": csrf}, await response.get_json()


async def test_a_new_user_chats_with_the_embedded_model(make_app):
    async with make_app(plugins=["auth", "chat", "providers"]) as app:
        admin, admin_headers, _ = await signup(app, "admin@example.com")
        client, headers, user = await signup(app, "new@example.com")
        api = Api(client)
        models = await api.ok(await client.get("/api/v1/models", headers=headers))
        assert "local/smollm2-135m-instruct" in [m["id"] for m in models["data"]]
        chat = await api.ok(await client.post("/api/v1/chats", json={}, headers=headers), 201)
        response = await client.post(
            f"/api/v1/chats/{chat['id']}/messages",
            json={
                "content": "What is the capital of France?",
                "params": {"temperature": 0, "seed": 0, "max_tokens": 24},
            },
            headers=headers,
        )
        assert response.status_code == 200
        events = parse_sse(await response.get_data(as_text=True))
        chunks = [data["content"] for name, data in events if name == "chunk"]
        done = next(data for name, data in events if name == "done")["message"]
        assert done["model"] == "local/smollm2-135m-instruct"
        assert done["status"] == "complete" and len(chunks) > 3
        assert done["content"] == "".join(chunks) and "Paris" in done["content"]
        run = await api.ok(await client.get(f"/api/v1/runs/{done['run_id']}", headers=headers))
        assert run["status"] == "succeeded" and run["pipeline"] == "chat"

        response = await admin.delete(f"/api/v1/users/{user['user']['id']}", headers=admin_headers)
        assert response.status_code == 204, await response.get_data(as_text=True)
        from sqlalchemy import func, select

        from notewell.plugins.chat.models import Chat, Message

        async with app.kernel.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Chat)) == 0
            assert await session.scalar(select(func.count()).select_from(Message)) == 0
