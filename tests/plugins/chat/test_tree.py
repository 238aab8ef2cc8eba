"""The message tree: regenerate makes a sibling answer, editing makes a sibling prompt,
switching shows another branch, deleting takes a branch away; long threads load with a
fixed number of queries."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy import event, insert

from notewell.plugins.chat.models import Message
from notewell.plugins.chat.tree import successive_ids

from .conftest import ALICE


async def test_regenerate_adds_a_sibling_answer_and_shows_it(api, client, connected):
    chat = await api.new_chat()
    sent = await api.send(chat["id"], "first question", models=["echo"])
    first = sent["answers"][0]
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{first['id']}/regenerate",
        json={"stream": False},
        headers=ALICE,
    )
    again = (await api.ok(response, 201))["answers"][0]
    assert again["parent_id"] == first["parent_id"] and again["id"] != first["id"]
    assert again["model"] == "echo" and again["status"] == "complete"
    detail = await api.chat(chat["id"])
    assert detail["current_message_id"] == again["id"]
    assert detail["messages"][-1]["sibling_ids"] == [first["id"], again["id"]]
    switched = await api.ok(
        await client.put(
            f"/api/v1/chats/{chat['id']}/current", json={"message_id": first["id"]}, headers=ALICE
        )
    )
    assert [m["id"] for m in switched["messages"]] == [sent["message"]["id"], first["id"]]


async def test_editing_a_prompt_branches_and_keeps_the_old_branch(api, client, connected):
    chat = await api.new_chat(models=["echo"])
    one = await api.send(chat["id"], "one")
    two = await api.send(chat["id"], "two")
    # edit "two": a new prompt beside it (same parent: the first answer)
    edited = await api.send(chat["id"], "two, edited", parent_id=one["answers"][0]["id"])
    detail = await api.chat(chat["id"])
    contents = [m["content"] for m in detail["messages"]]
    assert contents == ["one", "You said: one", "two, edited", "You said: two, edited"]
    assert detail["messages"][2]["sibling_ids"] == [two["message"]["id"], edited["message"]["id"]]
    # the model was sent the edited branch only
    sent = connected.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["one", "You said: one", "two, edited"]
    # switching to the old prompt shows its newest leaf
    back = await api.ok(
        await client.put(
            f"/api/v1/chats/{chat['id']}/current",
            json={"message_id": two["message"]["id"]},
            headers=ALICE,
        )
    )
    assert back["current_message_id"] == two["answers"][0]["id"]
    # editing the very first prompt: a new root
    root = await api.send(chat["id"], "zero", parent_id=None)
    assert root["message"]["parent_id"] is None
    detail = await api.chat(chat["id"])
    assert detail["messages"][0]["sibling_ids"] == [one["message"]["id"], root["message"]["id"]]


async def test_regenerating_under_a_prompt_and_with_another_model(api, client, connected):
    connected.pieces = 3
    chat = await api.new_chat()
    sent = await api.send(chat["id"], "q", models=["echo"])
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{sent['message']['id']}/regenerate",
        json={"model": "slow", "stream": False},
        headers=ALICE,
    )
    answer = (await api.ok(response, 201))["answers"][0]
    assert answer["parent_id"] == sent["message"]["id"] and answer["model"] == "slow"


async def test_side_by_side_answers_are_siblings_in_model_order(api, client, connected):
    chat = await api.new_chat()
    sent = await api.send(chat["id"], "compare", models=["echo", "tools"])
    answers = sent["answers"]
    assert [a["model"] for a in answers] == ["echo", "tools"]
    assert {a["parent_id"] for a in answers} == {sent["message"]["id"]}
    assert all(a["status"] == "complete" for a in answers)
    detail = await api.chat(chat["id"])
    assert detail["current_message_id"] == answers[0]["id"]
    assert detail["messages"][-1]["sibling_ids"] == [a["id"] for a in answers]
    assert detail["models"] == ["echo", "tools"]  # follow-ups go to both


async def test_side_by_side_answers_keep_their_columns_when_answered_again(api, client, connected):
    chat = await api.new_chat()
    sent = await api.send(chat["id"], "compare", models=["echo", "tools"])
    first, second = sent["answers"]
    group = first["id"]
    assert first["meta"]["side_by_side"] == {"group": group, "column": 0}
    assert second["meta"]["side_by_side"] == {"group": group, "column": 1}
    # another version of the second column, by another model: same group, same column
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{second['id']}/regenerate",
        json={"model": "echo", "stream": False},
        headers=ALICE,
    )
    again = (await api.ok(response, 201))["answers"][0]
    assert again["model"] == "echo"
    assert again["meta"]["side_by_side"] == {"group": group, "column": 1}
    saved = await api.ok(
        await client.get(f"/api/v1/chats/{chat['id']}/messages/{again['id']}", headers=ALICE)
    )
    assert saved["meta"]["side_by_side"] == {"group": group, "column": 1}  # kept when it ended
    # a lone answer is in no group, and neither is another version of it
    single = await api.send(chat["id"], "alone", models=["echo"])
    assert "side_by_side" not in single["answers"][0]["meta"]
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{single['answers'][0]['id']}/regenerate",
        json={"stream": False},
        headers=ALICE,
    )
    assert "side_by_side" not in (await api.ok(response, 201))["answers"][0]["meta"]


async def test_deleting_a_message_removes_its_replies(api, client, connected):
    chat = await api.new_chat(models=["echo"])
    one = await api.send(chat["id"], "one")
    two = await api.send(chat["id"], "two")
    after = await api.ok(
        await client.delete(
            f"/api/v1/chats/{chat['id']}/messages/{two['message']['id']}", headers=ALICE
        )
    )
    assert after["current_message_id"] == one["answers"][0]["id"]
    assert [m["content"] for m in after["messages"]] == ["one", "You said: one"]
    response = await client.get(
        f"/api/v1/chats/{chat['id']}/messages/{two['answers'][0]['id']}", headers=ALICE
    )
    await api.problem(response, 404, "message_not_found")


async def test_all_messages_page_by_cursor(api, client, connected):
    chat = await api.new_chat(models=["echo"])
    for text in ("a", "b", "c"):
        await api.send(chat["id"], text)
    first = await api.ok(
        await client.get(f"/api/v1/chats/{chat['id']}/messages?limit=4", headers=ALICE)
    )
    rest = await api.ok(
        await client.get(
            f"/api/v1/chats/{chat['id']}/messages?cursor={first['next_cursor']}", headers=ALICE
        )
    )
    assert len(first["data"]) == 4 and len(rest["data"]) == 2 and rest["next_cursor"] is None


@contextlib.contextmanager
def counting(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_thousand_message_thread_loads_with_four_queries(app, api):
    chat = await api.new_chat(title="long")
    ids = successive_ids(1000)
    now = datetime.now(UTC)
    rows = [
        {
            "id": message_id,
            "chat_id": chat["id"],
            "user_id": "alice",
            "parent_id": ids[i - 1] if i else None,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i} " + "words " * 50,
            "status": "complete",
            "meta": {},
            "seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        for i, message_id in enumerate(ids)
    ]
    async with app.kernel.db.session() as session:
        await session.execute(insert(Message), rows)
    with counting(app.kernel.db.engine) as statements:
        detail = await api.chat(chat["id"])
    assert len(detail["messages"]) == 1000
    assert detail["messages"][0]["content"].startswith("message 0 ")
    assert detail["messages"][-1]["id"] == ids[-1]
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 4, selects
