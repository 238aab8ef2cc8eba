"""Nothing lost: over a real socket, a client that disconnects stops nothing; a server
that stops keeps the partial answer (marked incomplete); answers a crash left
streaming are finished at the next start."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert

from notewell.plugins.chat.models import Message

from .conftest import ADMIN, ALICE, API_KEY, Api
from .served import served
from .test_generation import eventually


async def test_a_client_that_disconnects_does_not_stop_the_answer(settings, plugins, upstream):
    upstream.pieces, upstream.delay = 40, 0.02
    async with (
        served(settings, plugins) as (_app, base),
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        response = await http.post(
            "/api/v1/connections",
            json={"name": "up", "type": "openai", "base_url": upstream.v1, "api_key": API_KEY},
            headers=ADMIN,
        )
        assert response.status_code == 201
        chat = (await http.post("/api/v1/chats", json={}, headers=ALICE)).json()
        url = f"/api/v1/chats/{chat['id']}/messages"
        chunks, answer_id = 0, None
        async with http.stream(
            "POST", url, json={"content": "hi", "models": ["slow"]}, headers=ALICE
        ) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: ") and answer_id is None:
                    answer_id = json.loads(line[6:])["answers"][0]["id"]
                if line == "event: chunk":
                    chunks += 1
                if chunks == 3:
                    break  # the tab is closed mid-answer
        assert answer_id is not None

        async def finished():
            message = (await http.get(f"{url}/{answer_id}", headers=ALICE)).json()
            return message if message["status"] != "streaming" else None

        message = await eventually(finished)
        assert message["status"] == "complete"
        assert message["content"] == "".join(f"w{i} " for i in range(40))
        assert upstream.disconnects == 0 and upstream.finished_streams == 1


async def test_a_stopping_server_keeps_the_partial_answer(make_app, upstream):
    upstream.pieces, upstream.delay = 400, 0.02
    async with make_app() as app:
        api = Api(app.test_client())
        from .conftest import connect

        await connect(api.client, upstream)
        chat = await api.new_chat()
        streaming = asyncio.create_task(api.stream(chat["id"], "long one", models=["slow"]))
        await asyncio.wait_for(upstream.started.wait(), 10)
        await asyncio.sleep(0.3)
    events = await asyncio.wait_for(streaming, 10)
    done = next(data for name, data in events if name == "done")["message"]
    assert done["status"] == "incomplete" and done["error"]["code"] == "interrupted"
    assert done["content"].startswith("w0 w1 ")
    async with make_app() as app:  # the same database, after a restart
        detail = await Api(app.test_client()).chat(chat["id"])
        saved = detail["messages"][-1]
        assert saved["status"] == "incomplete" and saved["content"] == done["content"]
        assert detail["messages"][0]["content"] == "long one"


async def test_answers_a_crash_left_streaming_are_finished_at_start(make_app):
    async with make_app() as app:
        api = Api(app.test_client())
        chat = await api.new_chat()
        old = datetime.now(UTC) - timedelta(hours=1)
        base = {
            "chat_id": chat["id"],
            "user_id": "alice",
            "meta": {},
            "created_at": old,
            "updated_at": old,
        }
        async with app.kernel.db.session() as session:
            await session.execute(
                insert(Message),
                [
                    {
                        **base,
                        "id": "01prompt00000000000000000a",
                        "role": "user",
                        "content": "q",
                        "status": "complete",
                        "seq": 0,
                    },
                    {
                        **base,
                        "id": "01answer00000000000000000b",
                        "parent_id": "01prompt00000000000000000a",
                        "role": "assistant",
                        "content": "half an ans",
                        "status": "streaming",
                        "seq": 3,
                        "run_id": "01nosuchrun000000000000000",
                    },
                    {
                        **base,
                        "id": "01answer00000000000000000c",
                        "parent_id": "01prompt00000000000000000a",
                        "role": "assistant",
                        "content": "",
                        "status": "streaming",
                        "seq": 0,
                    },
                ],
            )
    async with make_app() as app:
        api = Api(app.test_client())
        url = f"/api/v1/chats/{chat['id']}/messages"
        kept = await api.ok(
            await api.client.get(f"{url}/01answer00000000000000000b", headers=ALICE)
        )
        assert kept["status"] == "incomplete" and kept["content"] == "half an ans"
        assert kept["error"]["code"] == "interrupted"
        empty = await api.ok(
            await api.client.get(f"{url}/01answer00000000000000000c", headers=ALICE)
        )
        assert empty["status"] == "failed"


async def test_another_tab_sees_the_chat_and_its_answer_through_socketio(
    settings, plugins, upstream
):
    import socketio

    async def tab(base: str, who: dict[str, str]) -> tuple[socketio.AsyncClient, list]:
        client = socketio.AsyncClient(reconnection=False)
        seen: list[tuple[str, dict]] = []

        async def record(event: str, data: dict) -> None:
            seen.append((event, data))

        client.on("*", record)
        await client.connect(base, headers=who, wait_timeout=15)
        return client, seen

    async with (
        served(settings, plugins) as (_app, base),
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        await http.post(
            "/api/v1/connections",
            json={"name": "up", "type": "openai", "base_url": upstream.v1, "api_key": API_KEY},
            headers=ADMIN,
        )
        other_tab, seen = await tab(base, ALICE)
        bobs_tab, bob_saw = await tab(base, {"X-Test-Actor": "bob:user"})
        try:
            chat = (await http.post("/api/v1/chats", json={}, headers=ALICE)).json()
            response = await http.post(
                f"/api/v1/chats/{chat['id']}/messages",
                json={"content": "hello tabs", "models": ["echo"], "stream": False},
                headers=ALICE,
            )
            answer = response.json()["answers"][0]

            async def arrived():
                return any(
                    event == "chat.message_updated"
                    and data["data"]["message"]["id"] == answer["id"]
                    for event, data in seen
                )

            await eventually(arrived)
        finally:
            await other_tab.disconnect()
            await bobs_tab.disconnect()
    topics = [event for event, _ in seen]
    assert topics[0] == "chat.created" and "chat.message_created" in topics
    chunks = [d["data"]["content"] for e, d in seen if e == "chat.message_chunk"]
    assert "".join(chunks) == answer["content"] == "You said: hello tabs"
    assert not [e for e, _ in bob_saw if e.startswith("chat.")]
