"""Two server replicas sharing a database and a Redis bus: a client of one re-attaches
to (and stops) an answer that the other is writing."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import ALICE, Api, connect, parse_sse
from .test_generation import eventually

pytestmark = pytest.mark.integration


async def test_another_replica_follows_and_stops_a_live_answer(
    make_app, upstream, redis_url, monkeypatch
):
    monkeypatch.setenv("NOTEWELL_CHAT__CHECKPOINT_INTERVAL_S", "0.05")
    upstream.pieces, upstream.delay = 60, 0.03
    async with make_app(redis_url=redis_url) as one, make_app(redis_url=redis_url) as two:
        writer, reader = Api(one.test_client()), Api(two.test_client())
        await connect(writer.client, upstream)
        chat = await writer.new_chat()
        sending = asyncio.create_task(writer.send(chat["id"], "go", models=["slow"]))
        await asyncio.wait_for(upstream.started.wait(), 10)

        async def checkpointed():
            message = (await reader.chat(chat["id"]))["messages"][-1]
            return message if message["seq"] > 5 else None

        answer = await eventually(checkpointed)
        assert answer["content"].startswith("w0 ")  # the checkpoint, read on replica two
        url = f"/api/v1/chats/{chat['id']}/messages/{answer['id']}"
        following = asyncio.create_task(reader.client.get(f"{url}/stream", headers=ALICE))
        await asyncio.sleep(0.3)
        stopped = await reader.client.post(f"{url}/stop", headers=ALICE)
        assert stopped.status_code == 202  # replica one stops it
        events = parse_sse(await (await following).get_data(as_text=True))
        first = events[0][1]
        chunks = [data for name, data in events if name == "chunk"]
        assert [c["seq"] for c in chunks] == list(
            range(first["seq"] + 1, first["seq"] + 1 + len(chunks))
        )
        done = next(data for name, data in events if name == "done")["message"]
        assert done["status"] == "stopped"
        assert done["content"] == first["message"]["content"] + "".join(
            c["content"] for c in chunks
        )
        assert (await sending)["answers"][0]["status"] == "stopped"
        await eventually(lambda: asyncio.sleep(0, upstream.disconnects == 1))
