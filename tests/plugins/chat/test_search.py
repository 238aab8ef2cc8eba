"""Full-text search over the user's own history, on SQLite (FTS5) and PostgreSQL
(tsvector + GIN), kept in step with every write: new answers, edits, deletions."""

from __future__ import annotations

from sqlalchemy import update

from notewell.plugins.chat.models import Message
from notewell.plugins.chat.search import snippet, sqlite_match, terms_of

from .conftest import ALICE, BOB, Api, connect


async def search(api: Api, query: str, who=ALICE, **params) -> dict:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    response = await api.client.get(f"/api/v1/chats/search?q={query}{extra}", headers=who)
    return await api.ok(response)


async def test_search_finds_words_in_the_users_own_messages(make_app, database_url, upstream):
    async with make_app(database_url=database_url) as app:
        api = Api(app.test_client())
        await connect(api.client, upstream)
        chat = await api.new_chat(title="Astronomy")
        sent = await api.send(chat["id"], "Tell me about the Andromeda galaxy", models=["echo"])
        other = await api.new_chat(title="Cooking")
        await api.send(other["id"], "A recipe for galaxy cake", models=["echo"])
        bobs = await api.new_chat(who=BOB)
        await api.send(bobs["id"], "andromeda is mine", who=BOB, models=["echo"])

        found = await search(api, "andromeda")
        hits = found["data"]
        # the prompt and its echoed answer, newest first; never bob's
        assert [h["message_id"] for h in hits] == [sent["answers"][0]["id"], sent["message"]["id"]]
        assert hits[1]["chat_title"] == "Astronomy" and hits[1]["role"] == "user"
        start, end = hits[1]["highlights"][0]
        assert hits[1]["snippet"][start:end] == "Andromeda"

        assert len((await search(api, "galaxy"))["data"]) == 4
        assert len((await search(api, "galaxy cake"))["data"]) == 2  # every word
        assert len((await search(api, "androm"))["data"]) == 2  # the last word as a prefix
        assert (await search(api, "nothing-like-this"))["data"] == []
        assert (await search(api, '"*)(^'))["data"] == []  # no syntax reaches the engine

        page = await search(api, "galaxy", limit=3)
        rest = await search(api, "galaxy", cursor=page["next_cursor"])
        assert len(page["data"]) == 3 and len(rest["data"]) == 1

        # the index follows updates and deletions
        async with app.kernel.db.session() as session:
            await session.execute(
                update(Message)
                .where(Message.id == sent["message"]["id"])
                .values(content="Tell me about Triangulum")
            )
        assert len((await search(api, "andromeda"))["data"]) == 1
        assert len((await search(api, "triangulum"))["data"]) == 1
        await api.client.delete(f"/api/v1/chats/{chat['id']}", headers=ALICE)
        assert (await search(api, "andromeda"))["data"] == []
        assert len((await search(api, "andromeda", who=BOB))["data"]) == 2


def test_query_words_become_quoted_terms():
    assert terms_of('Hello, "World" OR x*') == ["hello", "world", "or", "x"]
    assert sqlite_match(["hello", "wor"]) == '"hello" "wor"*'


def test_snippets_mark_matches_near_the_first_one():
    text = "lorem " * 60 + "the Andromeda galaxy is near " + "ipsum " * 60
    excerpt, marks = snippet(text, ["andromeda", "gal"])
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert [excerpt[a:b] for a, b in marks] == ["Andromeda", "galaxy"]
