"""The Anthropic adapter against a local server speaking the Messages API's wire protocol."""

from __future__ import annotations

import pytest

from notewell.plugins.providers.adapters.anthropic import API_VERSION, AnthropicProvider
from notewell.plugins.providers.errors import ModelNotSupported
from notewell.plugins.providers.interface import (
    ChatRequest,
    ConnectionConfig,
    Message,
    ToolCall,
    ToolCallFunction,
)

from .contract import TOOL, WireContract
from .servers import anthropic_server
from .servers.base import API_KEY, ServerState, serve


@pytest.fixture
async def upstream():
    state = ServerState()
    async with serve(anthropic_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state


def make(base_url: str, api_key: str | None = API_KEY) -> AnthropicProvider:
    return AnthropicProvider(
        ConnectionConfig(
            name="fake-anthropic", type="anthropic", base_url=base_url, api_key=api_key
        )
    )


@pytest.fixture
async def provider(upstream):
    provider = make(upstream.base_url)
    yield provider
    await provider.aclose()


@pytest.fixture
async def bad_key_provider(upstream):
    provider = make(upstream.base_url, api_key="wrong-key")
    yield provider
    await provider.aclose()


class TestAnthropicProvider(WireContract):
    has_embeddings = False

    def assert_upstream_saw_tool(self, upstream):
        sent = upstream.requests[-1]
        assert sent["tools"][0]["name"] == "get_weather"
        assert sent["tools"][0]["input_schema"] == TOOL["function"]["parameters"]
        assert sent["system"] == "Be brief."
        assert upstream.headers[-1]["x-api-key"] == API_KEY
        assert upstream.headers[-1]["anthropic-version"] == API_VERSION

    async def test_model_list_follows_pages(self, provider):
        assert [m.id for m in await provider.list_models()] == ["chat-model", "other-model"]

    async def test_embeddings_are_not_offered(self, provider):
        with pytest.raises(ModelNotSupported):
            await provider.embed("chat-model", ["text"])

    async def test_tool_results_go_back_as_user_blocks(self, provider, upstream):
        call = ToolCall(
            id="toolu_1",
            function=ToolCallFunction(name="get_weather", arguments='{"city": "Paris"}'),
        )
        await provider.chat(
            ChatRequest(
                model="chat-model",
                tools=[TOOL],
                messages=[
                    Message(role="user", content="Weather?"),
                    Message(role="assistant", tool_calls=[call]),
                    Message(role="tool", tool_call_id="toolu_1", content="Sunny"),
                ],
            )
        )
        sent = upstream.requests[-1]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[1]["content"][0] == {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "get_weather",
            "input": {"city": "Paris"},
        }
        assert sent[2]["content"][0]["type"] == "tool_result"
