"""A provider plugin with a bug (it raises something that is not a ProviderError): every
/v1 call still gets an error in OpenAI's shape, its run is recorded as failed (never
left `running`), and the exception's own message reaches neither the client nor the
record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from notewell.kernel import hookimpl
from notewell.kernel.actor import SYSTEM
from notewell.plugins.providers.interface import (
    ChatDelta,
    ChatRequest,
    EmbeddingResult,
    ModelInfo,
    Provider,
)
from openai_api.streaming import read_until_error

SECRET = "internal detail: token=abc123"


class BuggyProvider(Provider):
    """Fails with a plain exception: at once, or after one piece of a stream."""

    type = "buggy"
    name = "buggy"

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(id="buggy-now", capabilities=("chat", "embeddings")),
            ModelInfo(id="buggy-later"),
        ]

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if request.model == "buggy-later":
            yield ChatDelta(content="Half an ans")
        raise RuntimeError(SECRET)

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        raise KeyError(SECRET)


class BuggyPlugin:
    @hookimpl
    def register_provider_instances(self, settings: Any) -> Provider:
        return BuggyProvider()


@pytest.fixture
def plugins() -> list[Any]:
    return [BuggyPlugin()]


async def last_run(server: Any, pipeline: str) -> Any:
    """The newest run of ``pipeline`` once it has ended (records are written in batches)."""
    for _ in range(200):
        runs, _ = await server.app.kernel.pipelines.page(SYSTEM, pipeline=pipeline)
        if runs and runs[0].status != "running":
            return runs[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no ended run of {pipeline}")


def assert_failed_cleanly(run: Any) -> None:
    assert run.status == "failed"
    assert run.error["code"] == "provider_failed"
    assert SECRET not in str(run.error)


async def test_a_completion_whose_provider_breaks(openai_client, server):
    with pytest.raises(openai.APIStatusError) as caught:
        await openai_client.chat.completions.create(
            model="buggy-now", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "provider_failed"
    assert SECRET not in str(caught.value.body)
    assert_failed_cleanly(await last_run(server, "openai-chat"))


async def test_a_stream_whose_provider_breaks_before_its_first_piece(openai_client, server):
    with pytest.raises(openai.APIStatusError) as caught:
        await openai_client.chat.completions.create(
            model="buggy-now", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert (caught.value.status_code, caught.value.code) == (502, "provider_failed")
    assert_failed_cleanly(await last_run(server, "openai-chat"))


async def test_a_stream_whose_provider_breaks_half_way(openai_client, server):
    pieces, error = await read_until_error(openai_client, "buggy-later", "hi")
    assert pieces == ["Half an ans"]
    assert SECRET not in str(error)
    run = await last_run(server, "openai-chat")
    assert_failed_cleanly(run)
    whole = await server.app.kernel.pipelines.get(run.id, SYSTEM)
    assert whole.outputs["content"] == "Half an ans"  # what was streamed is kept


async def test_an_embedding_whose_provider_breaks(openai_client, server):
    with pytest.raises(openai.APIStatusError) as caught:
        await openai_client.embeddings.create(model="buggy-now", input="hello")
    assert (caught.value.status_code, caught.value.code) == (502, "provider_failed")
    assert_failed_cleanly(await last_run(server, "openai-embeddings"))
