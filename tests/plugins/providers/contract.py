"""The behaviour every provider adapter must show (STYLE §8).

``ProviderContract`` holds for every provider, the embedded local one included;
``WireContract`` adds what a provider behind a network protocol must also do. A test
class for an adapter subclasses one of them and provides the fixtures

- ``provider``: the adapter connected to its fake upstream with a good key;
- ``bad_key_provider``: the same with a key the upstream refuses (``WireContract``);
- ``upstream``: the fake upstream's :class:`ServerState` (what it saw; ``WireContract``).

The fake upstreams follow the script in ``servers/base.py`` (behaviour chosen by model
name), so every adapter is held to the same expectations.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from notewell.plugins.providers.errors import (
    ProviderError,
    StreamBroken,
    UpstreamRateLimited,
    UpstreamUnauthorized,
)
from notewell.plugins.providers.interface import ChatRequest, ChatStream, Message

from .servers.base import PIECES, RETRY_AFTER

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def ask(model: str, text: str = "Say hello", **kwargs: object) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[Message(role="system", content="Be brief."), Message(role="user", content=text)],
        **kwargs,
    )


async def collect(stream: ChatStream) -> list:
    async with stream:
        return [delta async for delta in stream]


class ProviderContract:
    """What every provider shows (remote or local): its models with capabilities, a
    whole answer with usage, a stream of deltas with finish reason and usage last, and
    embeddings in order. Needs the ``provider`` fixture."""

    chat_model = "chat-model"
    embed_model = "embed-model"
    listed_chat_model = "chat-model"
    expected_text = "".join(PIECES)
    has_embeddings = True
    question = "Say hello"
    system_prompt: str | None = "Be brief."
    request_options: dict = {}

    def request(self, **kwargs: object) -> ChatRequest:
        """The question of the core tests, for ``chat_model``."""
        messages = [Message(role="user", content=self.question)]
        if self.system_prompt:
            messages.insert(0, Message(role="system", content=self.system_prompt))
        return ChatRequest(
            model=self.chat_model, messages=messages, **{**self.request_options, **kwargs}
        )

    def check_answer(self, text: str) -> None:
        """The answer is the expected one (a real model's test checks its meaning)."""
        assert text == self.expected_text

    async def test_lists_models_with_capabilities(self, provider):
        models = {model.id: model for model in await provider.list_models()}
        assert "chat" in models[self.listed_chat_model].capabilities
        embedders = [m for m in models.values() if "embeddings" in m.capabilities]
        assert bool(embedders) == self.has_embeddings

    async def test_chat_returns_the_whole_answer_with_usage(self, provider):
        result = await provider.chat(self.request())
        self.check_answer(result.content)
        assert result.finish_reason == "stop"
        assert result.usage.prompt_tokens > 0
        assert result.usage.completion_tokens > 0

    async def test_stream_yields_pieces_in_order_then_finish_and_usage(self, provider):
        stream = ChatStream(provider.stream(self.request()), self.chat_model)
        deltas = await collect(stream)
        texts = [delta.content for delta in deltas if delta.content]
        assert len(texts) > 1
        self.check_answer("".join(texts))
        assert deltas[-1].finish_reason == "stop"
        assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens > 0
        assert all(delta.usage is None for delta in deltas[:-1])

    async def test_embeddings_keep_the_order_of_the_texts(self, provider):
        if not self.has_embeddings:
            pytest.skip("this provider offers no embeddings")
        result = await provider.embed(self.embed_model, ["first text", "second text"])
        assert len(result.vectors) == 2
        assert result.vectors[0] != result.vectors[1]
        again = await provider.embed(self.embed_model, ["second text"])
        assert again.vectors[0] == result.vectors[1]


class WireContract(ProviderContract):
    """What every provider behind a network protocol shows besides: tools passed
    through, upstream errors typed (bodies, refused keys, 429 with Retry-After), broken
    and garbage streams keeping the partial text, and closing that reaches the upstream.
    Needs ``provider``, ``bad_key_provider`` and ``upstream`` (see the module docstring).
    """

    async def test_tool_calls_pass_through(self, provider, upstream):
        result = await provider.chat(ask(self.chat_model, "Weather in Paris?", tools=[TOOL]))
        assert upstream.requests[-1].get("stream") in (None, False)
        assert result.finish_reason == "tool_calls"
        [call] = result.tool_calls
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris"}
        self.assert_upstream_saw_tool(upstream)

    async def test_streamed_tool_calls_arrive_as_deltas(self, provider):
        request = ask(self.chat_model, "Weather in Paris?", tools=[TOOL])
        stream = ChatStream(provider.stream(request), self.chat_model)
        deltas = await collect(stream)
        assert any(delta.tool_calls for delta in deltas)
        [call] = stream.result().tool_calls
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris"}
        assert deltas[-1].finish_reason == "tool_calls"

    async def test_upstream_error_body_becomes_a_provider_error(self, provider):
        with pytest.raises(ProviderError) as caught:
            await provider.chat(ask("broken-model"))
        assert caught.value.code == "upstream_error"
        assert caught.value.status == 502
        assert "crashed" in caught.value.message
        assert caught.value.connection == provider.name

    async def test_refused_key_names_the_connection(self, bad_key_provider):
        with pytest.raises(UpstreamUnauthorized) as caught:
            await bad_key_provider.chat(ask(self.chat_model))
        assert caught.value.code == "upstream_unauthorized"
        assert caught.value.status == 502
        assert repr(bad_key_provider.name) in caught.value.message

    async def test_rate_limit_passes_retry_after_through(self, provider):
        for call in (
            provider.chat(ask("limited-model")),
            collect(ChatStream(provider.stream(ask("limited-model")), "limited-model")),
        ):
            with pytest.raises(UpstreamRateLimited) as caught:
                await call
            assert caught.value.status == 429
            assert caught.value.headers == {"Retry-After": RETRY_AFTER}

    async def test_dropped_connection_keeps_the_partial_text(self, provider):
        stream = ChatStream(provider.stream(ask("drop-model")), "drop-model")
        with pytest.raises(StreamBroken) as caught:
            await collect(stream)
        assert caught.value.code == "upstream_stream_broken"
        assert caught.value.partial
        assert self.expected_text.startswith(caught.value.partial)

    async def test_garbage_in_the_stream_is_reported_as_malformed(self, provider):
        stream = ChatStream(provider.stream(ask("garbage-model")), "garbage-model")
        with pytest.raises(StreamBroken) as caught:
            await collect(stream)
        assert caught.value.code == "upstream_malformed"
        assert self.expected_text.startswith(caught.value.partial)

    async def test_a_garbage_body_is_reported_as_malformed(self, provider):
        with pytest.raises(StreamBroken) as caught:
            await provider.chat(ask("garbage-model"))
        assert caught.value.code == "upstream_malformed"

    async def test_closing_the_stream_closes_the_upstream_response(self, provider, upstream):
        stream = ChatStream(provider.stream(ask("slow-model")), "slow-model")
        first = await anext(stream)
        assert first.content
        await stream.aclose()
        await asyncio.wait_for(upstream.disconnected.wait(), 10)  # a hang guard only

    def assert_upstream_saw_tool(self, upstream):
        """Subclasses check that the tool reached the upstream in its own wire format."""
