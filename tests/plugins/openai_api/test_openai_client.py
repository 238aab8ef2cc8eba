"""The official ``openai`` package as the client of Notewell's /v1 API: models, whole and
streamed completions, tools, embeddings, and errors raised as its own exceptions."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from notewell.kernel.actor import SYSTEM
from notewell.kernel.events import Event
from notewell.kernel.pipelines.errors import RunNotFound
from openai_api.streaming import read_until_error

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


async def recorded(server, completion_id: str):
    """The run record of a call (records are written in batches)."""
    run_id = completion_id.removeprefix("chatcmpl-")
    for _ in range(200):
        try:
            run = await server.app.kernel.pipelines.get(run_id, SYSTEM)
        except RunNotFound:  # not written yet
            await asyncio.sleep(0.02)
            continue
        if run.status != "running":
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} was not recorded")


async def test_models_are_listed(openai_client):
    models = [model.id async for model in openai_client.models.list()]
    assert "echo" in models and "embedder" in models


async def test_a_completion_is_answered_and_recorded_as_a_run(openai_client, server):
    completion = await openai_client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hi there"}]
    )
    assert completion.choices[0].message.content == "You said: hi there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 4
    run = await recorded(server, completion.id)
    assert run.pipeline == "openai-chat" and run.status == "succeeded"
    assert run.inputs["request"]["messages"][0]["content"] == "hi there"
    assert run.outputs["content"] == "You said: hi there"
    full = await server.app.kernel.pipelines.get(run.id, SYSTEM)
    assert [step.step_id for step in full.steps] == ["complete"]


async def test_a_streamed_completion_arrives_in_pieces(openai_client, server):
    stream = await openai_client.chat.completions.create(
        model="echo",
        messages=[
            {"role": "system", "content": "Be nice."},
            {"role": "user", "content": "stream this please"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, ids = [], None, set()
    async for chunk in stream:
        ids.add(chunk.id)
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
    assert "".join(pieces) == "You said: stream this please" and len(pieces) == 5
    assert usage.completion_tokens == 5 and len(ids) == 1
    run = await recorded(server, ids.pop())
    assert run.status == "succeeded" and run.outputs["content"] == "".join(pieces)


async def test_tool_calls_pass_through(openai_client, server):
    completion = await openai_client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "weather?"}],
        tools=TOOLS,
        tool_choice="auto",
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Paris"}'
    assert completion.choices[0].finish_reason == "tool_calls"
    assert server.upstream.requests[-1]["tools"] == TOOLS
    assert server.upstream.requests[-1]["tool_choice"] == "auto"
    stream = await openai_client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "weather?"}],
        tools=TOOLS,
        stream=True,
    )
    calls = [
        c.choices[0].delta.tool_calls[0]
        async for c in stream
        if c.choices and c.choices[0].delta.tool_calls
    ]
    assert calls[0].function.name == "get_weather"


async def test_an_embedding(openai_client, server):
    result = await openai_client.embeddings.create(model="embedder", input=["abc", "hello"])
    assert [item.embedding for item in result.data] == [[3.0, 1.0, 0.5], [5.0, 1.0, 0.5]]
    plain = await openai_client.embeddings.create(
        model="embedder", input="abcd", encoding_format="float"
    )
    assert plain.data[0].embedding == [4.0, 1.0, 0.5]


async def test_an_invalid_key_is_an_authentication_error(server):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.v1, api_key="nw_not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        await client.models.list()
    await client.close()
    assert caught.value.status_code == 401
    assert caught.value.body["type"] == "authentication_error"


async def test_errors_come_in_openais_shape(openai_client, server):
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert caught.value.param == "n" and caught.value.code == "unsupported_value"
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.chat.completions.create(
            model="echo", messages=[{"role": "robot", "content": "x"}]
        )
    assert caught.value.param == "messages[0].role"
    with pytest.raises(openai.NotFoundError) as caught:
        await openai_client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.InternalServerError) as caught:
        await openai_client.chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 502 and caught.value.code == "upstream_error"
    server.upstream.context_chars = 10
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "far too long a prompt"}]
        )
    assert caught.value.code == "upstream_rejected_request"
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.v1}/nothing-here", headers=server.headers())
    assert response.status_code == 404 and response.json()["error"]["code"] == "route_not_found"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.v1}/chat/completions", content=b"{not json", headers=server.headers()
        )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


async def test_failed_calls_are_recorded_with_their_reason(openai_client, server):
    with pytest.raises(openai.NotFoundError):
        await openai_client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    for _ in range(100):
        runs, _ = await server.app.kernel.pipelines.page(SYSTEM, pipeline="openai-chat")
        if runs and runs[0].status == "failed":
            break
        await asyncio.sleep(0.02)
    assert runs[0].status == "failed" and runs[0].error["code"] == "model_not_found"


async def test_a_broken_stream_ends_with_an_error_event(openai_client, server):
    pieces, error = await read_until_error(openai_client, "garbage", "a b c d")
    assert "You said:" in "".join(pieces)
    assert "upstream" in str(error).lower() or error.code is None


async def test_a_client_that_leaves_a_stream_cancels_the_upstream(openai_client, server):
    server.upstream.pieces, server.upstream.delay = 200, 0.02
    stream = await openai_client.chat.completions.create(
        model="slow", messages=[{"role": "user", "content": "go"}], stream=True
    )
    seen = 0
    async for _chunk in stream:
        seen += 1
        if seen == 5:
            break
    await stream.close()
    for _ in range(200):
        if server.upstream.disconnects:
            break
        await asyncio.sleep(0.02)
    assert server.upstream.disconnects == 1 and server.upstream.finished_streams == 0


async def test_a_stream_never_read_is_recorded_cancelled_and_its_upstream_closed(server):
    """The request ends before its body is read at all (its client left before the first
    byte): the run is not left `running`, and the upstream stream is closed."""
    from notewell.kernel.actor import Actor
    from notewell.plugins.openai_api.schemas import CompletionRequest
    from notewell.plugins.openai_api.state import service_of

    server.upstream.pieces, server.upstream.delay = 200, 0.02
    service = service_of(server.app.kernel)
    actor = Actor(id="api-user", kind="api_key", roles=frozenset({"user"}))
    body = {"model": "slow", "messages": [{"role": "user", "content": "go"}], "stream": True}

    async def request_that_never_reads_its_body() -> None:
        await service.stream(actor, CompletionRequest.model_validate(body), body)

    before, _ = await server.app.kernel.pipelines.page(SYSTEM, pipeline="openai-chat")
    await asyncio.create_task(request_that_never_reads_its_body())
    for _ in range(200):
        if server.upstream.disconnects:
            break
        await asyncio.sleep(0.02)
    runs, _ = await server.app.kernel.pipelines.page(SYSTEM, pipeline="openai-chat")
    new = [run for run in runs if run.id not in {old.id for old in before}]
    assert [run.status for run in new] == ["cancelled"]
    assert new[0].error["code"] == "client_disconnected"
    assert server.upstream.disconnects == 1 and server.upstream.finished_streams == 0


@pytest.fixture
def chunk_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEWELL_OPENAI_API__CHUNK_EVENTS_S", "0.05")


async def test_run_viewers_get_a_streamed_answer_batched(chunk_events, openai_client, server):
    server.upstream.pieces, server.upstream.delay = 30, 0.005
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    server.app.kernel.bus.subscribe(collect, "run.chunk")
    stream = await openai_client.chat.completions.create(
        model="slow", messages=[{"role": "user", "content": "go"}], stream=True
    )
    pieces, completion_id = [], ""
    async for chunk in stream:
        completion_id = chunk.id
        pieces.extend(c.delta.content for c in chunk.choices if c.delta.content)
    run_id = completion_id.removeprefix("chatcmpl-")
    for _ in range(100):
        if "".join(e.data["chunk"]["content"] for e in seen) == "".join(pieces):
            break
        await asyncio.sleep(0.02)
    assert {e.data["run_id"] for e in seen} == {run_id}
    assert "".join(e.data["chunk"]["content"] for e in seen) == "".join(pieces)
    assert [e.data["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert 1 <= len(seen) < len(pieces) == 30
