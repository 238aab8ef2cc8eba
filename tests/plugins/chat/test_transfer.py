"""Share links (read-only snapshots, revocable), export (JSON with every branch,
Markdown of the branch on show, all chats at once) and import (Notewell JSON, Markdown,
Open WebUI's chat export)."""

from __future__ import annotations

from .conftest import ALICE, BOB


async def exchange(api, chat_id: str) -> dict:
    """Two turns with a regenerated second answer."""
    await api.send(chat_id, "first", models=["echo"])
    second = await api.send(chat_id, "second")
    response = await api.client.post(
        f"/api/v1/chats/{chat_id}/messages/{second['answers'][0]['id']}/regenerate",
        json={"stream": False},
        headers=ALICE,
    )
    return (await api.ok(response, 201))["answers"][0]


async def test_a_share_link_shows_a_snapshot_to_anyone_until_revoked(api, client, connected):
    chat = await api.new_chat(title="Shared one")
    await api.send(chat["id"], "visible", models=["echo"])
    share = await api.ok(await client.post(f"/api/v1/chats/{chat['id']}/share", headers=ALICE), 201)
    assert len(share["token"]) >= 32 and share["path"] == f"/shared/{share['token']}"
    public = await api.ok(await client.get(f"/api/v1/chats/shared/{share['token']}"))
    assert public["title"] == "Shared one"
    assert [m["content"] for m in public["messages"]] == ["visible", "You said: visible"]
    assert "id" not in public["messages"][0] and "run_id" not in public["messages"][1]
    # a snapshot: later messages do not show until shared again (same link)
    await api.send(chat["id"], "later")
    public = await api.ok(await client.get(f"/api/v1/chats/shared/{share['token']}"))
    assert len(public["messages"]) == 2
    again = await api.ok(await client.post(f"/api/v1/chats/{chat['id']}/share", headers=ALICE), 201)
    assert again["token"] == share["token"]
    public = await api.ok(await client.get(f"/api/v1/chats/shared/{share['token']}"))
    assert len(public["messages"]) == 4
    assert (await api.ok(await client.get(f"/api/v1/chats/{chat['id']}/share", headers=ALICE)))[
        "token"
    ] == share["token"]
    response = await client.delete(f"/api/v1/chats/{chat['id']}/share", headers=ALICE)
    assert response.status_code == 204
    await api.problem(
        await client.get(f"/api/v1/chats/shared/{share['token']}"), 404, "share_not_found"
    )
    await api.problem(await client.get("/api/v1/chats/shared/guess"), 404, "share_not_found")


async def test_json_export_and_import_keep_every_branch(api, client, connected):
    chat = await api.new_chat(title="Branchy", system_prompt="Be brief.", tags=["t"])
    current = await exchange(api, chat["id"])
    exported = await api.ok(await client.get(f"/api/v1/chats/{chat['id']}/export", headers=ALICE))
    assert exported["format"] == "notewell.chat" and len(exported["messages"]) == 5
    assert exported["chat"]["current_message_id"] == current["id"]
    imported = await api.ok(
        await client.post("/api/v1/chats/import", json=exported, headers=BOB), 201
    )
    copy = imported["data"][0]
    assert copy["title"] == "Branchy" and copy["tags"] == ["t"]
    detail = await api.chat(copy["id"], who=BOB)
    assert detail["system_prompt"] == "Be brief."
    assert [m["content"] for m in detail["messages"]] == [
        "first",
        "You said: first",
        "second",
        "You said: second",
    ]
    assert len(detail["messages"][-1]["sibling_ids"]) == 2
    assert detail["messages"][-1]["id"] != current["id"]  # new ids


async def test_markdown_export_reads_back_as_a_chat(api, client, connected):
    chat = await api.new_chat(title="Notes")
    await api.send(chat["id"], "What is **2+2**?", models=["echo"])
    response = await client.get(f"/api/v1/chats/{chat['id']}/export?format=markdown", headers=ALICE)
    text = await response.get_data(as_text=True)
    assert response.content_type.startswith("text/markdown")
    assert 'filename="Notes.md"' in response.headers["Content-Disposition"]
    assert text.startswith("# Notes\n") and "## Assistant (echo)" in text
    imported = await api.ok(
        await client.post(
            "/api/v1/chats/import", data=text, headers={**ALICE, "Content-Type": "text/markdown"}
        ),
        201,
    )
    detail = await api.chat(imported["data"][0]["id"])
    assert [(m["role"], m["content"], m["model"]) for m in detail["messages"]] == [
        ("user", "What is **2+2**?", None),
        ("assistant", "You said: What is **2+2**?", "echo"),
    ]


async def test_all_chats_export_as_one_document(api, client, connected):
    for i in range(3):
        chat = await api.new_chat(title=f"c{i}")
        await api.send(chat["id"], f"m{i}", models=["echo"])
    response = await client.get("/api/v1/chats/export", headers=ALICE)
    body = await response.get_json()
    assert body["format"] == "notewell.chats"
    assert sorted(c["chat"]["title"] for c in body["chats"]) == ["c0", "c1", "c2"]
    assert all(len(c["messages"]) == 2 for c in body["chats"])
    again = await api.ok(await client.post("/api/v1/chats/import", json=body, headers=BOB), 201)
    assert len(again["data"]) == 3


OPEN_WEBUI_EXPORT = [
    {
        "id": "4d7c0f1e",
        "user_id": "u1",
        "title": "Paris trip",
        "chat": {
            "id": "",
            "title": "Paris trip",
            "models": ["llama3:8b"],
            "params": {},
            "history": {
                "messages": {
                    "a1": {
                        "id": "a1",
                        "parentId": None,
                        "childrenIds": ["b1", "b2"],
                        "role": "user",
                        "content": "Plan a day in Paris",
                        "timestamp": 1716000000,
                    },
                    "b1": {
                        "id": "b1",
                        "parentId": "a1",
                        "childrenIds": [],
                        "role": "assistant",
                        "content": "Louvre, then lunch.",
                        "model": "llama3:8b",
                        "timestamp": 1716000005,
                    },
                    "b2": {
                        "id": "b2",
                        "parentId": "a1",
                        "childrenIds": ["c1"],
                        "role": "assistant",
                        "content": "Eiffel Tower first.",
                        "model": "llama3:8b",
                        "timestamp": 1716000009,
                    },
                    "c1": {
                        "id": "c1",
                        "parentId": "b2",
                        "childrenIds": [],
                        "role": "user",
                        "content": "And dinner?",
                        "timestamp": 1716000020,
                    },
                },
                "currentId": "c1",
            },
            "messages": [],
            "tags": [],
            "timestamp": 1716000000000,
        },
        "updated_at": 1716000020,
        "created_at": 1716000000,
        "share_id": None,
        "archived": False,
        "pinned": True,
        "meta": {"tags": ["travel"]},
        "folder_id": None,
    }
]


async def test_open_webui_exports_import_with_their_branches(api, client):
    imported = await api.ok(
        await client.post("/api/v1/chats/import", json=OPEN_WEBUI_EXPORT, headers=ALICE), 201
    )
    chat = imported["data"][0]
    assert chat["title"] == "Paris trip" and chat["pinned"] is True
    assert chat["tags"] == ["travel"] and chat["models"] == ["llama3:8b"]
    detail = await api.chat(chat["id"])
    assert [m["content"] for m in detail["messages"]] == [
        "Plan a day in Paris",
        "Eiffel Tower first.",
        "And dinner?",
    ]
    assert len(detail["messages"][1]["sibling_ids"]) == 2
    assert detail["messages"][0]["created_at"].startswith("2024-05-18")


async def test_bad_imports_are_refused_and_write_nothing(api, client):
    for body, code in [
        ({"hello": "world"}, "import_invalid"),
        ({"format": "notewell.chat", "messages": [{"role": "robot", "id": "x"}]}, "import_invalid"),
        (
            [
                {
                    "chat": {
                        "history": {
                            "messages": {"a": {"role": "user"}, "b": {"id": "a", "role": "user"}}
                        }
                    }
                }
            ],
            "import_invalid",
        ),
    ]:
        response = await client.post("/api/v1/chats/import", json=body, headers=ALICE)
        await api.problem(response, 422, code)
    response = await client.post(
        "/api/v1/chats/import",
        data="no headings here",
        headers={**ALICE, "Content-Type": "text/markdown"},
    )
    await api.problem(response, 422, "import_invalid")
    response = await client.post(
        "/api/v1/chats/import", data="x", headers={**ALICE, "Content-Type": "application/pdf"}
    )
    await api.problem(response, 415, "unsupported_media_type")
    assert (await api.ok(await client.get("/api/v1/chats", headers=ALICE)))["data"] == []
