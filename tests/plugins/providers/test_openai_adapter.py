"""The OpenAI-compatible adapter against a local server speaking OpenAI's wire protocol."""

from __future__ import annotations

import socket

import pytest

from notewell.plugins.providers.adapters.http import env_proxy
from notewell.plugins.providers.adapters.openai import OpenAIProvider
from notewell.plugins.providers.errors import UpstreamTimeout, UpstreamUnreachable
from notewell.plugins.providers.interface import ConnectionConfig

from .contract import WireContract, ask
from .servers import openai_server
from .servers.base import API_KEY, ServerState, serve


@pytest.fixture
async def upstream():
    state = ServerState()
    async with serve(openai_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state


def make(base_url: str, api_key: str | None = API_KEY, **kwargs) -> OpenAIProvider:
    return OpenAIProvider(
        ConnectionConfig(
            name="fake-openai", type="openai", base_url=f"{base_url}/v1", api_key=api_key, **kwargs
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


class TestOpenAIProvider(WireContract):
    embed_model = "text-embedding-fake"

    def assert_upstream_saw_tool(self, upstream):
        sent = upstream.requests[-1]
        assert sent["tools"][0]["function"]["name"] == "get_weather"
        assert upstream.headers[-1]["authorization"] == f"Bearer {API_KEY}"

    async def test_streaming_asks_for_usage(self, provider, upstream):
        await provider.chat(ask("chat-model"))
        stream = provider.stream(ask("chat-model"))
        async for _ in stream:
            pass
        assert upstream.requests[-1]["stream_options"] == {"include_usage": True}

    async def test_model_list_carries_context_length(self, provider):
        models = {model.id: model for model in await provider.list_models()}
        assert models["chat-model"].context_length == 8192
        assert models["text-embedding-fake"].capabilities == ("embeddings",)

    async def test_a_silent_upstream_times_out(self, upstream):
        provider = make(upstream.base_url, read_timeout_s=0.2)
        stream = provider.stream(ask("slow-model"))
        with pytest.raises(UpstreamTimeout) as caught:
            async for _ in stream:
                pass
        assert caught.value.status == 504
        await provider.aclose()

    async def test_an_unreachable_upstream_names_the_connection(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        provider = make(f"http://127.0.0.1:{port}")
        with pytest.raises(UpstreamUnreachable) as caught:
            await provider.list_models()
        assert caught.value.code == "upstream_unreachable"
        assert "fake-openai" in caught.value.message


def test_the_environments_proxy_is_read_once_and_honours_no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.setenv("NO_PROXY", "internal.test")
    assert env_proxy("https://api.openai.com/v1") == "http://proxy.test:3128"
    assert env_proxy("https://internal.test/v1") is None
    assert env_proxy("http://plain.test/v1") is None
