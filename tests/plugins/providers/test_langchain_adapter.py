"""The LangChain adapter with langchain-core's own fake chat models and fake embeddings.

The "upstream" here is the LangChain model object; the scripted behaviours of
``servers/base.py`` are played by small subclasses of the fakes.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import openai
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from notewell.plugins.providers.adapters.langchain import LangChainProvider
from notewell.plugins.providers.errors import StreamBroken

from .contract import ChatStream, WireContract, ask, collect
from .servers.base import PIECES, RETRY_AFTER, TOOL_ARGUMENTS, ServerState

TEXT = "".join(PIECES)


class ScriptedChat(GenericFakeChatModel):
    """GenericFakeChatModel plus usage at the end, and tool calls once tools are bound."""

    bound_tools: list[Any] = []
    seen: Any = None

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        if self.seen is not None:
            self.seen.requests.append({"tools": tools})
        return self.model_copy(update={"bound_tools": list(tools)})

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        if self.bound_tools:
            name = self.bound_tools[0]["function"]["name"]
            for i, part in enumerate(TOOL_ARGUMENTS):
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        tool_call_chunks=[
                            {
                                "name": name if i == 0 else None,
                                "args": part,
                                "id": "call_1" if i == 0 else None,
                                "index": 0,
                            }
                        ],
                    )
                )
            return
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": sum(len(str(m.content).split()) for m in messages),
                    "output_tokens": len(PIECES),
                    "total_tokens": 0,
                },
            )
        )


class Failing(GenericFakeChatModel):
    """Raises ``error`` before the first chunk."""

    error: Any = None

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        raise self.error


class Garbled(GenericFakeChatModel):
    """Sends one good chunk, then something that is not a chat chunk at all."""

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        yield ChatGenerationChunk(message=AIMessageChunk(content="Hello"))
        yield "<<garbage>>"


class Slow(GenericFakeChatModel):
    """Sends one chunk, then waits; notes when the consumer closes it."""

    seen: Any = None

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        try:
            yield ChatGenerationChunk(message=AIMessageChunk(content="Hello"))
            await asyncio.sleep(3600)
        finally:
            self.seen.disconnected.set()


def api_error(cls: type[openai.APIStatusError], status: int, message: str) -> Exception:
    request = httpx.Request("POST", "https://api.example.test/v1/chat/completions")
    response = httpx.Response(status, request=request, headers={"retry-after": RETRY_AFTER})
    return cls(message, response=response, body=None)


def messages() -> Any:
    return itertools.cycle([AIMessage(content=TEXT)])


@pytest.fixture
def upstream():
    return ServerState()


@pytest.fixture
def provider(upstream):
    chat_models = {
        "chat-model": ScriptedChat(messages=messages(), seen=upstream),
        "broken-model": Failing(messages=messages(), error=RuntimeError("The model crashed.")),
        "limited-model": Failing(
            messages=messages(), error=api_error(openai.RateLimitError, 429, "Rate limit reached")
        ),
        "drop-model": FakeListChatModel(responses=[TEXT], error_on_chunk_number=2),
        "garbage-model": Garbled(messages=messages()),
        "slow-model": Slow(messages=messages(), seen=upstream),
    }
    return LangChainProvider(
        "fake-langchain",
        chat_models=chat_models,
        embeddings={"embed-model": DeterministicFakeEmbedding(size=8)},
    )


@pytest.fixture
def bad_key_provider():
    refused = Failing(
        messages=messages(),
        error=api_error(openai.AuthenticationError, 401, "Incorrect API key provided"),
    )
    return LangChainProvider("fake-langchain", chat_models={"chat-model": refused})


class TestLangChainProvider(WireContract):
    def assert_upstream_saw_tool(self, upstream):
        assert upstream.requests[-1]["tools"][0]["function"]["name"] == "get_weather"

    async def test_garbage_in_the_stream_is_reported_as_malformed(self, provider):
        # an in-process model cannot send bytes that break framing: what it can do is
        # hand LangChain something that is not a chunk, which LangChain fails on
        stream = ChatStream(provider.stream(ask("garbage-model")), "garbage-model")
        with pytest.raises(StreamBroken) as caught:
            await collect(stream)
        assert caught.value.partial == "Hello"

    async def test_a_garbage_body_is_reported_as_malformed(self, provider):
        # see above: LangChain itself fails on the non-chunk, mid-answer
        with pytest.raises(StreamBroken):
            await provider.chat(ask("garbage-model"))
