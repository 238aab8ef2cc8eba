"""The providers' pipeline steps, run by the kernel's pipeline engine: the heavy local
steps in the worker pool, ``providers.chat`` inline through the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notewell.kernel.actor import Actor
from notewell.kernel.events import Event
from notewell.kernel.pipelines.spec import PipelineSpec
from notewell.kernel.pipelines.step import StepContext
from notewell.plugins.providers import local
from notewell.plugins.providers.steps import EmbedStep, GenerateStep

from .conftest import ADMIN
from .servers.base import API_KEY, PIECES

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_models")]

ALICE = Actor(id="alice", kind="user", name="alice", roles=frozenset({"user"}))
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"worker_pool_size": 1})


def pipeline(step: dict[str, Any], outputs: dict[str, str]) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {"name": "providers-test", "inputs": {}, "steps": [step], "outputs": outputs}
    )


async def chunks_of(app) -> list[Any]:
    """Collects ``run.chunk`` events (the caller reads them after the run)."""
    seen: list[Any] = []

    async def listen(event: Event) -> None:
        seen.append(event.data)

    app.kernel.bus.subscribe(listen, "run.chunk")
    return seen


async def settle(seen: list[Any], count: int) -> None:
    for _ in range(500):  # a bounded number of loop turns for the bus to deliver
        if len(seen) >= count:
            return
        await asyncio.sleep(0.01)


async def test_generate_runs_in_the_worker_pool_and_streams_tokens(app):
    seen = await chunks_of(app)
    spec = pipeline(
        {
            "id": "answer",
            "uses": "providers.generate",
            "with": {"messages": MESSAGES, "temperature": 0.2, "seed": 0},
        },
        {"text": "${{ steps.answer.outputs.content }}"},
    )
    run = await app.kernel.pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded", run.error
    step = run.steps[0]
    assert step.executor == "worker"
    assert "Paris" in run.outputs["text"]
    assert step.outputs["usage"]["completion_tokens"] > 1
    await settle(seen, step.outputs["usage"]["completion_tokens"])
    streamed = "".join(c["chunk"]["content"] for c in seen if c["run_id"] == run.id)
    assert streamed == run.outputs["text"]


async def test_embed_runs_in_the_worker_pool(app):
    spec = pipeline(
        {"id": "vec", "uses": "providers.embed", "with": {"texts": ["one text", "another text"]}},
        {"dimension": "${{ steps.vec.outputs.dimension }}"},
    )
    run = await app.kernel.pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded", run.error
    assert run.steps[0].executor == "worker"
    assert run.outputs["dimension"] == 384


async def test_the_heavy_steps_follow_the_providers_settings(make_app, monkeypatch):
    """The worker process has no kernel: it reads the providers plugin's settings from
    the environment, as the server does (here: embeddings on CUDA, which is absent)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("NOTEWELL_PROVIDERS__EMBEDDINGS_DEVICE", "cuda")
    spec = pipeline(
        {"id": "vec", "uses": "providers.embed", "with": {"texts": ["one text"]}},
        {"dimension": "${{ steps.vec.outputs.dimension }}"},
    )
    async with make_app() as app:
        run = await app.kernel.pipelines.run(spec, actor=ALICE)
    assert run.status == "failed"
    assert run.steps[0].executor == "worker"
    assert run.error["code"] == "cuda_unavailable", run.error


async def test_chat_step_uses_any_model_of_the_list(app, client, openai_upstream):
    response = await client.post(
        "/api/v1/connections",
        headers=ADMIN,
        json={
            "name": "oa",
            "type": "openai",
            "base_url": f"{openai_upstream.base_url}/v1",
            "api_key": API_KEY,
            "prefix": "oa/",
        },
    )
    assert response.status_code == 201
    seen = await chunks_of(app)
    spec = pipeline(
        {
            "id": "answer",
            "uses": "providers.chat",
            "with": {"model": "oa/chat-model", "messages": MESSAGES},
        },
        {"text": "${{ steps.answer.outputs.content }}"},
    )
    run = await app.kernel.pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded", run.error
    assert run.steps[0].executor == "inline"
    assert run.outputs["text"] == "".join(PIECES)
    await settle(seen, len(PIECES))
    assert [c["chunk"] for c in seen if c["run_id"] == run.id] == [
        {"content": piece} for piece in PIECES
    ]


async def test_steps_warm_up_and_run_outside_any_server():
    emitted: list[Any] = []

    async def emit(chunk: Any) -> None:
        emitted.append(chunk)

    ctx = StepContext(run_id="r", step_id="s", actor=ALICE, emitter=emit)
    generate = GenerateStep()
    await generate.warm_up()
    out = await generate.run(GenerateStep.Inputs(messages=MESSAGES, seed=0, max_tokens=16), ctx)
    assert "".join(c["content"] for c in emitted) == out.content
    embed = EmbedStep()
    await embed.warm_up()
    vectors = await embed.run(EmbedStep.Inputs(texts=["hello"]), ctx)
    assert (vectors.dimension, vectors.model) == (384, local.EMBED_MODEL_ID)
