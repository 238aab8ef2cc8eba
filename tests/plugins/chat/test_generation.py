"""Generation done right: answers are runs of pipelines/chat.yaml, streamed as they come,
owned by the server (a client that leaves stops nothing and can come back), stopped
only by the stop button, and never lost (partial answers are kept and marked)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notewell.kernel.events import Event

from .conftest import ALICE, parse_sse


async def eventually(check, timeout: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    for _ in range(int(timeout / 0.02)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def answer_of(api, chat_id: str) -> dict[str, Any]:
    return (await api.chat(chat_id))["messages"][-1]


async def test_a_streamed_answer_arrives_chunk_by_chunk_and_is_saved(api, client, connected):
    chat = await api.new_chat()
    events = await api.stream(chat["id"], "hello world", models=["echo"])
    names = [name for name, _ in events]
    assert names[0] == "created" and names[-2:] == ["done", "end"]
    created = events[0][1]
    assert created["message"]["content"] == "hello world"
    assert created["answers"][0]["status"] == "streaming"
    chunks = [data for name, data in events if name == "chunk"]
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert "".join(c["content"] for c in chunks) == "You said: hello world"
    done = events[-2][1]["message"]
    assert done["status"] == "complete" and done["content"] == "You said: hello world"
    assert done["usage"]["completion_tokens"] == 4
    saved = await answer_of(api, chat["id"])
    assert saved == {**done, "sibling_ids": saved["sibling_ids"]}
    # the answer is a run of the chat pipeline, shown by the run viewer
    run = await api.ok(await client.get(f"/api/v1/runs/{done['run_id']}", headers=ALICE))
    assert run["pipeline"] == "chat" and run["status"] == "succeeded"
    assert run["inputs"]["message_id"] == done["id"]
    assert run["outputs"]["content"] == "You said: hello world"
    assert [step["step_id"] for step in run["steps"]] == ["answer"]


async def test_the_prompt_is_saved_before_the_answer_starts(api, client, connected):
    connected.pieces, connected.delay = 30, 0.02
    chat = await api.new_chat()
    sending = asyncio.create_task(api.send(chat["id"], "be slow", models=["slow"]))
    await asyncio.wait_for(connected.started.wait(), 10)
    during = await api.chat(chat["id"])
    assert [m["role"] for m in during["messages"]] == ["user", "assistant"]
    assert during["messages"][0]["content"] == "be slow"
    assert during["messages"][1]["status"] == "streaming"
    sent = await sending
    assert sent["answers"][0]["content"] == "".join(f"w{i} " for i in range(30))


async def test_chunks_and_updates_reach_the_bus(app, api, connected):
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    app.kernel.bus.subscribe(collect, "chat.message_")
    chat = await api.new_chat()
    sent = await api.send(chat["id"], "tabs", models=["echo"])
    answer = sent["answers"][0]
    await eventually(lambda: asyncio.sleep(0, any(e.topic == "chat.message_updated" for e in seen)))
    created = [e for e in seen if e.topic == "chat.message_created"]
    assert [e.data["message"]["role"] for e in created] == ["user", "assistant"]
    chunks = [e.data for e in seen if e.topic == "chat.message_chunk"]
    assert {c["message_id"] for c in chunks} == {answer["id"]}
    assert "".join(c["content"] for c in chunks) == answer["content"]
    assert all(e.user_id == "alice" for e in seen)
    final = [e for e in seen if e.topic == "chat.message_updated"][-1]
    assert final.data["message"]["status"] == "complete"


async def test_run_viewers_get_the_text_batched_and_the_chat_every_token(app, api, connected):
    connected.pieces, connected.delay = 30, 0.005
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    app.kernel.bus.subscribe(collect, "chat.message_chunk")
    app.kernel.bus.subscribe(collect, "run.chunk")
    chat = await api.new_chat()
    answer = (await api.send(chat["id"], "batch it", models=["slow"]))["answers"][0]

    def for_viewers() -> list[dict[str, Any]]:
        runs = [e.data for e in seen if e.topic == "run.chunk"]
        return [data for data in runs if data["run_id"] == answer["run_id"]]

    async def all_arrived() -> bool:
        return "".join(c["chunk"]["content"] for c in for_viewers()) == answer["content"]

    await eventually(all_arrived)
    tokens = [e.data for e in seen if e.topic == "chat.message_chunk"]
    assert [t["content"] for t in tokens] == [f"w{i} " for i in range(30)]
    batches = for_viewers()
    assert [b["seq"] for b in batches] == list(range(1, len(batches) + 1))
    assert 1 <= len(batches) < len(tokens)


async def test_a_returning_client_reattaches_where_the_answer_stands(api, client, connected):
    connected.pieces, connected.delay = 40, 0.02
    chat = await api.new_chat()
    sending = asyncio.create_task(api.stream(chat["id"], "go", models=["slow"]))
    await asyncio.wait_for(connected.started.wait(), 10)
    answer = await eventually(lambda: answer_of(api, chat["id"]))
    await asyncio.sleep(0.2)  # some of it has been written
    response = await client.get(
        f"/api/v1/chats/{chat['id']}/messages/{answer['id']}/stream", headers=ALICE
    )
    events = parse_sse(await response.get_data(as_text=True))
    first = events[0]
    assert first[0] == "message" and first[1]["message"]["content"]  # replay so far
    chunks = [data for name, data in events if name == "chunk"]
    assert [c["seq"] for c in chunks] == list(range(first[1]["seq"] + 1, 41))
    whole = first[1]["message"]["content"] + "".join(c["content"] for c in chunks)
    assert whole == "".join(f"w{i} " for i in range(40))
    assert events[-2][1]["message"]["content"] == whole and events[-1][0] == "end"
    await sending
    # once ended, re-attaching gives the whole answer at once
    response = await client.get(
        f"/api/v1/chats/{chat['id']}/messages/{answer['id']}/stream", headers=ALICE
    )
    names = [name for name, _ in parse_sse(await response.get_data(as_text=True))]
    assert names == ["message", "done", "end"]


async def test_stop_cancels_the_upstream_and_keeps_the_partial_answer(api, client, connected):
    connected.pieces, connected.delay = 200, 0.02
    chat = await api.new_chat()
    sending = asyncio.create_task(api.send(chat["id"], "go on", models=["slow"]))
    await asyncio.wait_for(connected.started.wait(), 10)
    answer = await eventually(lambda: answer_of(api, chat["id"]))
    await asyncio.sleep(0.2)
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{answer['id']}/stop", headers=ALICE
    )
    stopped = await api.ok(response)
    assert stopped["status"] == "stopped" and stopped["error"] is None
    assert stopped["content"].startswith("w0 w1 ") and "w199" not in stopped["content"]
    await eventually(lambda: asyncio.sleep(0, connected.disconnects == 1))
    assert connected.finished_streams == 0
    run = await api.ok(await client.get(f"/api/v1/runs/{stopped['run_id']}", headers=ALICE))
    assert run["status"] == "cancelled"
    assert (await sending)["answers"][0]["status"] == "stopped"
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages/{answer['id']}/stop", headers=ALICE
    )
    await api.problem(response, 409, "message_not_streaming")


@pytest.mark.parametrize(
    ("model", "status", "code", "http"),
    [
        ("broken", "failed", "upstream_error", 502),
        ("limited", "failed", "upstream_rate_limited", 429),
        ("drop", "incomplete", "upstream_stream_broken", 502),
        ("garbage", "incomplete", "upstream_malformed", 502),
    ],
)
async def test_upstream_failures_keep_the_conversation(
    api, client, connected, model, status, code, http
):
    chat = await api.new_chat()
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"content": "try", "models": [model], "stream": False},
        headers=ALICE,
    )
    problem = await api.problem(response, http, code)
    assert problem["prompt"]["content"] == "try"
    answer = problem["answers"][0]
    assert answer["status"] == status and answer["error"]["code"] == code
    if status == "incomplete":
        assert answer["content"] == "You said: try"[: len(answer["content"])] != ""
    detail = await api.chat(chat["id"])
    assert detail["messages"][0]["content"] == "try"
    assert detail["messages"][1]["status"] == status
    run = await api.ok(await client.get(f"/api/v1/runs/{answer['run_id']}", headers=ALICE))
    assert run["status"] == "failed" and run["error"]["code"] == code


async def test_a_silent_upstream_times_out(make_app, api_for, upstream, monkeypatch):
    monkeypatch.setenv("NOTEWELL_PROVIDERS__READ_TIMEOUT_S", "0.3")
    async with make_app() as app:
        api = await api_for(app, upstream)
        chat = await api.new_chat()
        response = await api.client.post(
            f"/api/v1/chats/{chat['id']}/messages",
            json={"content": "hello?", "models": ["hang"], "stream": False},
            headers=ALICE,
        )
        problem = await api.problem(response, 504, "upstream_timeout")
        assert problem["answers"][0]["status"] == "failed"


async def test_a_refused_connection_is_reported(api, client, connected):
    from notewell.testing.services import free_port

    response = await client.post(
        "/api/v1/connections",
        json={
            "name": "gone",
            "type": "openai",
            "prefix": "gone/",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "models": ["m"],
        },
        headers={"X-Test-Actor": "root:admin"},
    )
    assert response.status_code == 201
    chat = await api.new_chat()
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"content": "anyone?", "models": ["gone/m"], "stream": False},
        headers=ALICE,
    )
    problem = await api.problem(response, 502, "upstream_unreachable")
    assert problem["prompt"]["content"] == "anyone?"


async def test_an_over_long_prompt_is_refused_by_the_upstream(api, client, connected):
    connected.context_chars = 100
    chat = await api.new_chat()
    response = await client.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={"content": "long " * 50, "models": ["echo"], "stream": False},
        headers=ALICE,
    )
    await api.problem(response, 400, "upstream_rejected_request")
    assert (await api.chat(chat["id"]))["messages"][0]["content"].startswith("long ")


async def test_bad_requests_write_nothing(api, client, connected):
    chat = await api.new_chat()
    for body, status, code in [
        ({"content": "x", "models": ["no-such-model"]}, 404, "model_not_found"),
        ({"content": "x", "models": ["embedder"]}, 422, "model_capability_missing"),
        ({"content": "x" * 200_001}, 413, "message_too_long"),
        ({"content": ""}, 422, "validation_failed"),
        ({"content": "x", "parent_id": "nope"}, 404, "message_not_found"),
        ({"content": "x", "models": ["preset:nope"]}, 404, "preset_not_found"),
        ({"content": "x", "models": ["echo"] * 2 + ["a", "b", "c"]}, 422, "too_many_models"),
        ({"content": "x", "params": {"top_p": 5}}, 422, "validation_failed"),
    ]:
        response = await client.post(
            f"/api/v1/chats/{chat['id']}/messages",
            json={**body, "stream": False},
            headers=ALICE,
        )
        await api.problem(response, status, code)
    assert (await api.chat(chat["id"]))["messages"] == []


async def test_system_prompt_preset_and_parameters_reach_the_model(api, client, connected):
    preset = await api.ok(
        await client.post(
            "/api/v1/chats/presets",
            json={
                "name": "Terse",
                "base_model": "echo",
                "system_prompt": "Be terse.",
                "params": {"temperature": 0.1, "max_tokens": 64},
            },
            headers=ALICE,
        ),
        201,
    )
    chat = await api.new_chat(preset_id=preset["id"], params={"max_tokens": 32})
    sent = await api.send(chat["id"], "hi", params={"seed": 7})
    assert sent["answers"][0]["model"] == "echo"
    assert sent["answers"][0]["preset_id"] == preset["id"]
    request = connected.requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "Be terse."}
    assert (request["temperature"], request["max_tokens"], request["seed"]) == (0.1, 32, 7)
    own = await api.new_chat(system_prompt="Be kind.", models=["echo"])
    await api.send(own["id"], "hi")
    assert connected.requests[-1]["messages"][0] == {"role": "system", "content": "Be kind."}


async def test_the_first_answer_gives_the_chat_a_title(make_app, api_for, upstream, monkeypatch):
    monkeypatch.setenv("NOTEWELL_CHAT__AUTO_TITLE", "true")
    async with make_app() as app:
        api = await api_for(app, upstream)
        chat = await api.new_chat()
        sent = await api.send(chat["id"], "Tell me about the moon", models=["echo"])
        assert (await api.chat(chat["id"]))["title"] in (
            "Tell me about the moon",
            "You said: Write a title of at most six words…",
        )
        titled = await eventually(lambda: _titled(api, chat["id"], "Tell me about the moon"))
        assert titled.startswith("You said: Write a title")
        runs = await api.ok(await api.client.get("/api/v1/runs?pipeline=chat-title", headers=ALICE))
        assert runs["runs"][0]["status"] == "succeeded"
        # a later exchange does not re-title, and a user's own title is kept
        await api.client.patch(f"/api/v1/chats/{chat['id']}", json={"title": "Mine"}, headers=ALICE)
        await api.send(chat["id"], "more", parent_id=sent["answers"][0]["id"])
        assert (await api.chat(chat["id"]))["title"] == "Mine"


async def _titled(api, chat_id: str, stand_in: str) -> str | None:
    title = (await api.chat(chat_id))["title"]
    return title if title != stand_in else None


@pytest.fixture
def api_for(settings):
    from .conftest import Api, connect

    async def make(app, upstream) -> Api:
        api = Api(app.test_client())
        await connect(api.client, upstream)
        return api

    return make


async def test_deleting_a_chat_stops_its_answers(api, client, connected):
    connected.pieces, connected.delay = 300, 0.02
    chat = await api.new_chat()
    sending = asyncio.create_task(api.stream(chat["id"], "go", models=["slow"]))
    await asyncio.wait_for(connected.started.wait(), 10)
    response = await client.delete(f"/api/v1/chats/{chat['id']}", headers=ALICE)
    assert response.status_code == 204
    await eventually(lambda: asyncio.sleep(0, connected.disconnects == 1))
    events = await asyncio.wait_for(sending, 10)
    assert events[-1][0] == "end"


async def test_an_unexpected_failure_still_ends_the_answer(
    app, api, client, connected, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    async def broken(*args, **kwargs):
        raise OperationalError("INSERT INTO kernel_run", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.kernel.pipelines, "start_run", broken)
    chat = await api.new_chat()
    events = await api.stream(chat["id"], "still there?", models=["echo"])
    done = next(data for name, data in events if name == "done")["message"]
    assert done["status"] == "failed" and done["error"]["code"] == "internal_error"
    assert (await api.chat(chat["id"]))["messages"][0]["content"] == "still there?"
