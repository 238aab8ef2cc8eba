"""10,000 chats per user: every listing is an index range scan in the order asked for
(no scan of the table, no sort), on SQLite and PostgreSQL; cursors walk them all.
(Timings are measured by bench/chat_history.py, not asserted here.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from notewell.kernel.actor import Actor
from notewell.plugins.chat.chats import list_query
from notewell.plugins.chat.models import Chat, Tag
from notewell.plugins.chat.tree import successive_ids

from .conftest import ALICE, Api

CHATS = 10_000
ALICE_ACTOR = Actor(id="alice", kind="user", roles=frozenset({"user"}))


async def insert_chats(app, user_id: str, count: int) -> list[str]:
    ids = successive_ids(count)
    now = datetime.now(UTC)
    rows = [
        {
            "id": chat_id,
            "user_id": user_id,
            "title": f"chat {i}",
            "title_auto": False,
            "system_prompt": "",
            "models": [],
            "params": {},
            "pinned": i % 100 == 0,
            "archived": i % 10 == 0,
            "folder_id": None,
            "activity_id": chat_id,
            "created_at": now,
            "updated_at": now,
        }
        for i, chat_id in enumerate(ids)
    ]
    async with app.kernel.db.session() as session:
        for start in range(0, count, 2000):
            await session.execute(insert(Chat), rows[start : start + 2000])
        await session.execute(
            insert(Tag), [{"chat_id": c, "name": "x", "user_id": user_id} for c in ids[1::50]]
        )
    return ids


async def plan(app, query) -> str:
    dialect = app.kernel.db.engine.dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if app.kernel.db.is_sqlite else "EXPLAIN "
    async with app.kernel.db.session() as session:
        if not app.kernel.db.is_sqlite:
            await session.execute(text("ANALYZE chat_chat"))
            await session.execute(text("ANALYZE chat_tag"))
        rows = (await session.execute(text(prefix + sql))).all()
    return "\n".join(str(row[-1]) for row in rows)


FILTERS = [
    ({}, "ix_chat_chat_user_list"),
    ({"archived": True}, "ix_chat_chat_user_list"),
    ({"pinned": True}, "ix_chat_chat_user_pinned"),
    ({"folder_id": "01folder00000000000000000x"}, "ix_chat_chat_user_folder"),
    ({"cursor": "01m8zzzzzzzzzzzzzzzzzzzzzz"}, "ix_chat_chat_user_list"),
]


@pytest.mark.slow
async def test_ten_thousand_chats_list_through_indexes(make_app, database_url):
    async with make_app(database_url=database_url) as app:
        ids = await insert_chats(app, "alice", CHATS)
        await insert_chats(app, "bob", CHATS)
        for given, index in FILTERS:
            options = {
                "archived": False,
                "pinned": None,
                "folder_id": None,
                "tag": None,
                "title": None,
                "cursor": None,
                "limit": 50,
                **given,
            }
            explained = await plan(app, list_query(ALICE_ACTOR, **options))
            assert index in explained, (given, explained)
            assert "TEMP B-TREE" not in explained and "Sort" not in explained, explained
            assert "SCAN chat_chat" not in explained and "Seq Scan" not in explained
        options = {
            "archived": False,
            "pinned": None,
            "folder_id": None,
            "tag": "x",
            "title": None,
            "cursor": None,
            "limit": 50,
        }
        explained = await plan(app, list_query(ALICE_ACTOR, **options))
        if app.kernel.db.is_sqlite:  # PostgreSQL may hash-join tables this small
            assert "SCAN chat_chat" not in explained and "SCAN chat_tag" not in explained
        # the first page and the walk through every unarchived chat
        api = Api(app.test_client())
        page = await api.ok(await api.client.get("/api/v1/chats?limit=200", headers=ALICE))
        newest = [i for n, i in enumerate(ids) if n % 10][::-1]
        assert [c["id"] for c in page["data"]] == newest[:200]
        seen, cursor = 0, None
        while True:
            query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
            page = await api.ok(await api.client.get(f"/api/v1/chats{query}", headers=ALICE))
            seen += len(page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == CHATS - CHATS // 10
        tagged = await api.ok(await api.client.get("/api/v1/chats?tag=x", headers=ALICE))
        assert len(tagged["data"]) == 50
