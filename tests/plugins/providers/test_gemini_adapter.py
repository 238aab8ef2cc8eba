"""The Gemini adapter against a local server speaking the Generative Language API."""

from __future__ import annotations

import pytest

from notewell.plugins.providers.adapters.gemini import GeminiProvider
from notewell.plugins.providers.interface import ConnectionConfig

from .contract import WireContract, ask
from .servers import gemini_server
from .servers.base import API_KEY, ServerState, serve


@pytest.fixture
async def upstream():
    state = ServerState()
    async with serve(gemini_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state


def make(base_url: str, api_key: str | None = API_KEY) -> GeminiProvider:
    return GeminiProvider(
        ConnectionConfig(
            name="fake-gemini", type="gemini", base_url=f"{base_url}/v1beta", api_key=api_key
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


class TestGeminiProvider(WireContract):
    def assert_upstream_saw_tool(self, upstream):
        sent = upstream.requests[-1]
        declaration = sent["tools"][0]["functionDeclarations"][0]
        assert declaration["name"] == "get_weather"
        assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert upstream.headers[-1]["x-goog-api-key"] == API_KEY

    async def test_models_that_cannot_chat_or_embed_are_left_out(self, provider):
        models = {m.id: m for m in await provider.list_models()}
        assert set(models) == {"chat-model", "embed-model"}
        assert models["chat-model"].context_length == 1048576

    async def test_generation_config_carries_the_parameters(self, provider, upstream):
        await provider.chat(ask("chat-model", temperature=0.3, max_tokens=9))
        assert upstream.requests[-1]["generationConfig"] == {
            "temperature": 0.3,
            "maxOutputTokens": 9,
        }
