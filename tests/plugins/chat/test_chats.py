"""Chats through the API: create, list with cursors and filters, change, tag, file, pin,
archive, delete; folders and presets; events for the user's other tabs."""

from __future__ import annotations

import asyncio

from notewell.kernel.events import Event

from .conftest import ALICE, BOB


async def test_a_new_chat_is_empty_and_listed_first(api, client):
    older = await api.new_chat(title="Older")
    newer = await api.new_chat(title="Newer", tags=["Work", "work", " ideas "], pinned=True)
    assert newer["tags"] == ["ideas", "work"] and newer["pinned"] is True
    detail = await api.chat(newer["id"])
    assert detail["messages"] == [] and detail["current_message_id"] is None
    listed = await api.ok(await client.get("/api/v1/chats", headers=ALICE))
    assert [c["id"] for c in listed["data"]] == [newer["id"], older["id"]]
    assert listed["next_cursor"] is None


async def test_cursor_pages_walk_every_chat_once(api, client):
    made = [(await api.new_chat(title=f"chat {i}"))["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = await api.ok(await client.get(f"/api/v1/chats{query}", headers=ALICE))
        seen += [chat["id"] for chat in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


async def test_activity_moves_a_chat_to_the_top(api, client):
    first = await api.new_chat(title="first")
    await api.new_chat(title="second")
    await client.patch(f"/api/v1/chats/{first['id']}", json={"title": "renamed"}, headers=ALICE)
    listed = await api.ok(await client.get("/api/v1/chats", headers=ALICE))
    assert listed["data"][0]["id"] == first["id"]
    assert listed["data"][0]["title"] == "renamed"


async def test_filters_pinned_archived_folder_tag_and_title(api, client):
    folder = await api.ok(
        await client.post("/api/v1/chats/folders", json={"name": "Projects"}, headers=ALICE), 201
    )
    plain = await api.new_chat(title="Plain soup")
    pinned = await api.new_chat(title="Pinned", pinned=True)
    filed = await api.new_chat(title="Filed", folder_id=folder["id"], tags=["x"])
    archived = await api.new_chat(title="Old soup")
    await api.ok(
        await client.patch(
            f"/api/v1/chats/{archived['id']}", json={"archived": True}, headers=ALICE
        )
    )

    async def ids(query: str) -> list[str]:
        page = await api.ok(await client.get(f"/api/v1/chats?{query}", headers=ALICE))
        return [chat["id"] for chat in page["data"]]

    assert await ids("") == [filed["id"], pinned["id"], plain["id"]]
    assert await ids("pinned=true") == [pinned["id"]]
    assert await ids("archived=true") == [archived["id"]]
    assert await ids(f"folder_id={folder['id']}") == [filed["id"]]
    assert await ids("tag=x") == [filed["id"]]
    assert await ids("q=SOUP") == [plain["id"]]
    assert await ids("q=100%25") == []  # LIKE wildcards are literal


async def test_update_changes_only_what_is_given(api, client):
    chat = await api.new_chat(
        title="Keep",
        system_prompt="Be brief.",
        models=["a", "b"],
        params={"temperature": 0.3},
        tags=["t1"],
    )
    updated = await api.ok(
        await client.patch(
            f"/api/v1/chats/{chat['id']}",
            json={"tags": ["t2"], "params": {"max_tokens": 50}},
            headers=ALICE,
        )
    )
    assert updated["title"] == "Keep" and updated["models"] == ["a", "b"]
    assert updated["tags"] == ["t2"]
    detail = await api.chat(chat["id"])
    assert detail["system_prompt"] == "Be brief." and detail["params"] == {"max_tokens": 50}


async def test_bad_updates_are_refused_and_change_nothing(api, client):
    chat = await api.new_chat(title="Same")
    response = await client.patch(
        f"/api/v1/chats/{chat['id']}", json={"titel": "typo"}, headers=ALICE
    )
    await api.problem(response, 422, "validation_failed")
    response = await client.patch(
        f"/api/v1/chats/{chat['id']}", json={"folder_id": "nope"}, headers=ALICE
    )
    await api.problem(response, 404, "folder_not_found")
    response = await client.patch(
        f"/api/v1/chats/{chat['id']}", json={"params": {"temperature": 9}}, headers=ALICE
    )
    await api.problem(response, 422, "validation_failed")
    assert (await api.chat(chat["id"]))["title"] == "Same"


async def test_tags_are_counted_per_user(api, client):
    await api.new_chat(tags=["a", "b"])
    await api.new_chat(tags=["a"])
    await api.new_chat(who=BOB, tags=["a", "z"])
    tags = await api.ok(await client.get("/api/v1/chats/tags", headers=ALICE))
    assert tags["data"] == [{"name": "a", "count": 2}, {"name": "b", "count": 1}]


async def test_deleting_a_folder_unfiles_its_chats(api, client):
    folder = await api.ok(
        await client.post("/api/v1/chats/folders", json={"name": "F"}, headers=ALICE), 201
    )
    response = await client.post("/api/v1/chats/folders", json={"name": "F"}, headers=ALICE)
    await api.problem(response, 409, "folder_exists")
    chat = await api.new_chat(folder_id=folder["id"])
    renamed = await api.ok(
        await client.patch(
            f"/api/v1/chats/folders/{folder['id']}", json={"name": "G"}, headers=ALICE
        )
    )
    assert renamed["name"] == "G"
    response = await client.delete(f"/api/v1/chats/folders/{folder['id']}", headers=ALICE)
    assert response.status_code == 204
    assert (await api.chat(chat["id"]))["folder_id"] is None
    folders = await api.ok(await client.get("/api/v1/chats/folders", headers=ALICE))
    assert folders["data"] == []


async def test_presets_are_named_setups(api, client):
    preset = await api.ok(
        await client.post(
            "/api/v1/chats/presets",
            json={
                "name": "Pirate",
                "base_model": "echo",
                "system_prompt": "Talk like a pirate.",
                "params": {"temperature": 0.9},
            },
            headers=ALICE,
        ),
        201,
    )
    response = await client.post(
        "/api/v1/chats/presets", json={"name": "Pirate", "base_model": "x"}, headers=ALICE
    )
    await api.problem(response, 409, "preset_exists")
    changed = await api.ok(
        await client.patch(
            f"/api/v1/chats/presets/{preset['id']}", json={"system_prompt": "Arr."}, headers=ALICE
        )
    )
    assert changed["system_prompt"] == "Arr." and changed["params"] == {"temperature": 0.9}
    listed = await api.ok(await client.get("/api/v1/chats/presets", headers=ALICE))
    assert [p["name"] for p in listed["data"]] == ["Pirate"]
    chat = await api.new_chat(preset_id=preset["id"])
    assert chat["preset_id"] == preset["id"]
    response = await client.delete(f"/api/v1/chats/presets/{preset['id']}", headers=ALICE)
    assert response.status_code == 204
    assert (await api.chat(chat["id"]))["preset_id"] is None


async def test_deleted_chat_is_gone(api, client):
    chat = await api.new_chat()
    assert (await client.delete(f"/api/v1/chats/{chat['id']}", headers=ALICE)).status_code == 204
    await api.problem(
        await client.get(f"/api/v1/chats/{chat['id']}", headers=ALICE), 404, "chat_not_found"
    )


async def test_changes_reach_the_users_other_tabs_as_events(app, api, client):
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    app.kernel.bus.subscribe(collect, "chat.")
    chat = await api.new_chat(title="Evented")
    await client.patch(f"/api/v1/chats/{chat['id']}", json={"pinned": True}, headers=ALICE)
    await client.delete(f"/api/v1/chats/{chat['id']}", headers=ALICE)
    for _ in range(50):
        if len(seen) >= 3:
            break
        await asyncio.sleep(0.01)
    assert [e.topic for e in seen] == ["chat.created", "chat.updated", "chat.deleted"]
    assert {e.user_id for e in seen} == {"alice"}
    assert seen[1].data["chat"]["pinned"] is True
    assert seen[2].data == {"chat_id": chat["id"]}


async def test_anonymous_callers_are_refused(api, client):
    await api.problem(await client.get("/api/v1/chats"), 401, "not_authenticated")
