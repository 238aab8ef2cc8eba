"""The Ollama adapter against a local server speaking Ollama's native wire protocol."""

from __future__ import annotations

import pytest

from notewell.plugins.providers.adapters.ollama import OllamaProvider
from notewell.plugins.providers.interface import ConnectionConfig

from .contract import WireContract, ask
from .servers import ollama_server
from .servers.base import API_KEY, ServerState, serve


@pytest.fixture
async def upstream():
    state = ServerState()
    async with serve(ollama_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state


def make(base_url: str, api_key: str | None = API_KEY) -> OllamaProvider:
    return OllamaProvider(
        ConnectionConfig(name="fake-ollama", type="ollama", base_url=base_url, api_key=api_key)
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


class TestOllamaProvider(WireContract):
    def assert_upstream_saw_tool(self, upstream):
        assert upstream.requests[-1]["tools"][0]["function"]["name"] == "get_weather"

    async def test_sampling_parameters_go_into_options(self, provider, upstream):
        await provider.chat(ask("chat-model", temperature=0.2, max_tokens=5, seed=0))
        assert upstream.requests[-1]["options"] == {"temperature": 0.2, "num_predict": 5, "seed": 0}

    async def test_unknown_model_is_not_found_upstream(self, provider):
        from notewell.plugins.providers.errors import UpstreamModelNotFound

        with pytest.raises(UpstreamModelNotFound) as caught:
            await provider.chat(ask("no-such-model"))
        assert caught.value.status == 404
