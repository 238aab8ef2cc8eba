"""The embedded local models, for real: SmolLM2-135M-Instruct through llama-cpp-python
and all-MiniLM-L6-v2 int8 through onnxruntime, both from installed packages."""

from __future__ import annotations

import math

import pytest

from notewell.plugins.providers import local
from notewell.plugins.providers.adapters.local import LocalProvider
from notewell.plugins.providers.errors import ModelNotSupported
from notewell.plugins.providers.interface import ChatRequest, ChatStream, Message
from notewell.plugins.providers.settings import ProvidersSettings

from .contract import TOOL, ProviderContract

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_models")]

QUESTION = "What is the capital of France?"


@pytest.fixture
def provider() -> LocalProvider:
    return LocalProvider(ProvidersSettings())


def question(**kwargs) -> ChatRequest:
    return ChatRequest(
        model=local.CHAT_MODEL_ID,
        temperature=0.2,
        seed=0,
        messages=[Message(role="user", content=QUESTION)],
        **kwargs,
    )


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class TestLocalProvider(ProviderContract):
    """The shared contract, with a real model's answer checked for its meaning."""

    chat_model = listed_chat_model = local.CHAT_MODEL_ID
    embed_model = local.EMBED_MODEL_ID
    question = QUESTION
    system_prompt = None
    request_options = {"temperature": 0.2, "seed": 0}

    def check_answer(self, text: str) -> None:
        assert "Paris" in text


async def test_local_chat_knows_the_capital_of_france_and_streams_tokens(provider):
    stream = ChatStream(provider.stream(question()), local.CHAT_MODEL_ID)
    async with stream:
        deltas = [delta async for delta in stream]
    texts = [d.content for d in deltas if d.content]
    assert len(texts) > 1
    assert "Paris" in "".join(texts)
    last = deltas[-1]
    assert last.finish_reason == "stop"
    assert last.usage.prompt_tokens > 0
    assert last.usage.completion_tokens == len(texts)


async def test_local_chat_is_repeatable_with_a_seed(provider):
    first = await provider.chat(question(max_tokens=24))
    second = await provider.chat(question(max_tokens=24))
    assert first.content == second.content


async def test_closing_the_local_stream_stops_generation(provider):
    stream = ChatStream(provider.stream(question(max_tokens=400)), local.CHAT_MODEL_ID)
    first = await anext(stream)
    await stream.aclose()
    assert first.content
    # the model is free again: a new answer runs to its end
    assert (await provider.chat(question(max_tokens=8))).usage.completion_tokens > 0


async def test_an_over_long_prompt_is_a_clear_400(provider):
    from notewell.plugins.providers.errors import UpstreamBadRequest

    long = ChatRequest(
        model=local.CHAT_MODEL_ID,
        messages=[Message(role="user", content="Paris is lovely. " * 2000)],
    )
    with pytest.raises(UpstreamBadRequest) as caught:
        await provider.chat(long)
    assert (caught.value.status, caught.value.code) == (400, "prompt_too_long")
    assert (await provider.chat(question(max_tokens=4))).usage.completion_tokens > 0


async def test_local_chat_refuses_tools(provider):
    with pytest.raises(ModelNotSupported):
        await provider.chat(question(tools=[TOOL]))


async def test_local_embeddings_are_unit_vectors_of_384_that_rank_meaning(provider):
    texts = [
        "The cat sits on the mat.",
        "A kitten is sitting on a rug.",
        "Quarterly revenue grew by four percent.",
    ]
    result = await provider.embed(local.EMBED_MODEL_ID, texts)
    cat, kitten, revenue = result.vectors
    assert [len(v) for v in result.vectors] == [384, 384, 384]
    for vector in result.vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)
    assert cosine(cat, kitten) > cosine(cat, revenue)
    assert cosine(cat, kitten) > cosine(kitten, revenue)
    assert result.usage.prompt_tokens > 0


async def test_padding_to_the_longest_text_does_not_change_a_vector(provider):
    short = "Short sentence."
    alone = (await provider.embed(local.EMBED_MODEL_ID, [short])).vectors[0]
    batch = await provider.embed(local.EMBED_MODEL_ID, [short, "A much longer sentence " * 20])
    assert cosine(alone, batch.vectors[0]) > 0.9999


async def test_long_texts_are_cut_at_256_tokens(provider):
    result = await provider.embed(local.EMBED_MODEL_ID, ["word " * 1000])
    assert result.usage.prompt_tokens == local.EMBED_MAX_TOKENS
    assert len(result.vectors[0]) == 384
