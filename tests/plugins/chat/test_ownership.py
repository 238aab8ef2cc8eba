"""Users see only their own chats: every route answers 404 for another user's chat,
message, folder, preset, share link or export — as if it did not exist."""

from __future__ import annotations

import pytest

from .conftest import ALICE, BOB, as_actor


@pytest.fixture
async def alices(api, client, connected):
    """Alice's chat with an exchange, a share link, a folder and a preset."""
    folder = await api.ok(
        await client.post("/api/v1/chats/folders", json={"name": "A"}, headers=ALICE), 201
    )
    preset = await api.ok(
        await client.post(
            "/api/v1/chats/presets", json={"name": "P", "base_model": "echo"}, headers=ALICE
        ),
        201,
    )
    chat = await api.new_chat(title="Alice's secret", folder_id=folder["id"])
    sent = await api.send(chat["id"], "my secret plan", models=["echo"])
    await api.ok(await client.post(f"/api/v1/chats/{chat['id']}/share", headers=ALICE), 201)
    return {
        "chat": chat["id"],
        "message": sent["message"]["id"],
        "answer": sent["answers"][0]["id"],
        "folder": folder["id"],
        "preset": preset["id"],
    }


ROUTES = [
    ("GET", "/api/v1/chats/{chat}", None, "chat_not_found"),
    ("PATCH", "/api/v1/chats/{chat}", {"title": "mine now"}, "chat_not_found"),
    ("DELETE", "/api/v1/chats/{chat}", None, "chat_not_found"),
    ("PUT", "/api/v1/chats/{chat}/current", {"message_id": "{message}"}, "chat_not_found"),
    ("GET", "/api/v1/chats/{chat}/messages", None, "chat_not_found"),
    ("POST", "/api/v1/chats/{chat}/messages", {"content": "hi", "stream": False}, "chat_not_found"),
    ("GET", "/api/v1/chats/{chat}/messages/{message}", None, "chat_not_found"),
    ("DELETE", "/api/v1/chats/{chat}/messages/{message}", None, "chat_not_found"),
    (
        "POST",
        "/api/v1/chats/{chat}/messages/{answer}/regenerate",
        {"stream": False},
        "chat_not_found",
    ),
    ("GET", "/api/v1/chats/{chat}/messages/{answer}/stream", None, "chat_not_found"),
    ("POST", "/api/v1/chats/{chat}/messages/{answer}/stop", None, "chat_not_found"),
    ("POST", "/api/v1/chats/{chat}/share", None, "chat_not_found"),
    ("GET", "/api/v1/chats/{chat}/share", None, "chat_not_found"),
    ("DELETE", "/api/v1/chats/{chat}/share", None, "chat_not_found"),
    ("GET", "/api/v1/chats/{chat}/export", None, "chat_not_found"),
    ("GET", "/api/v1/chats/{chat}/export?format=markdown", None, "chat_not_found"),
    ("PATCH", "/api/v1/chats/folders/{folder}", {"name": "B"}, "folder_not_found"),
    ("DELETE", "/api/v1/chats/folders/{folder}", None, "folder_not_found"),
    ("GET", "/api/v1/chats/presets/{preset}", None, "preset_not_found"),
    ("PATCH", "/api/v1/chats/presets/{preset}", {"name": "B"}, "preset_not_found"),
    ("DELETE", "/api/v1/chats/presets/{preset}", None, "preset_not_found"),
    ("POST", "/api/v1/chats", {"folder_id": "{folder}"}, "folder_not_found"),
    ("POST", "/api/v1/chats", {"preset_id": "{preset}"}, "preset_not_found"),
]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("who", [BOB, as_actor("root", "admin")], ids=["user", "admin"])
@pytest.mark.parametrize(
    ("method", "path", "body", "code"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
async def test_another_user_gets_404(api, client, alices, who, method, path, body, code):
    response = await client.open(
        _fill(path, alices), method=method, json=_fill(body, alices), headers=who
    )
    await api.problem(response, 404, code)


async def test_nothing_of_alices_shows_in_bobs_lists(api, client, alices):
    for path in (
        "/api/v1/chats",
        "/api/v1/chats/folders",
        "/api/v1/chats/presets",
        "/api/v1/chats/tags",
        "/api/v1/chats/search?q=secret",
    ):
        body = await api.ok(await client.get(path, headers=BOB))
        assert body["data"] == [], path
    exported = await client.get("/api/v1/chats/export", headers=BOB)
    assert (await exported.get_json())["chats"] == []
    # and alice still has everything
    assert (await api.chat(alices["chat"]))["title"] == "Alice's secret"


async def test_bob_cannot_answer_into_alices_chat_through_his_own(api, client, alices):
    mine = await api.new_chat(who=BOB)
    response = await client.post(
        f"/api/v1/chats/{mine['id']}/messages",
        json={"content": "x", "parent_id": alices["message"], "stream": False},
        headers=BOB,
    )
    await api.problem(response, 404, "message_not_found")
    response = await client.put(
        f"/api/v1/chats/{mine['id']}/current", json={"message_id": alices["message"]}, headers=BOB
    )
    await api.problem(response, 404, "message_not_found")
    response = await client.post(
        f"/api/v1/chats/{mine['id']}/messages",
        json={"content": "x", "models": [f"preset:{alices['preset']}"], "stream": False},
        headers=BOB,
    )
    await api.problem(response, 404, "preset_not_found")
