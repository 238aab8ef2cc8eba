"""The fake OpenAI upstream is checked against the official ``openai`` client, so that the
adapter tests exercise the real wire protocol and not one of our own making."""

from __future__ import annotations

import openai
import pytest

from .contract import TOOL
from .servers.base import API_KEY, PIECES

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def sdk(openai_upstream):
    return openai.AsyncOpenAI(
        base_url=f"{openai_upstream.base_url}/v1", api_key=API_KEY, max_retries=0
    )


async def test_the_official_client_reads_models_completions_and_embeddings(sdk):
    models = await sdk.models.list()
    assert "chat-model" in [m.id for m in models.data]
    completion = await sdk.chat.completions.create(model="chat-model", messages=MESSAGES)
    assert completion.choices[0].message.content == "".join(PIECES)
    assert completion.usage.completion_tokens == len(PIECES)
    embedded = await sdk.embeddings.create(model="text-embedding-fake", input=["a", "b"])
    assert [row.index for row in embedded.data] == [1, 0]  # the server answers out of order


async def test_the_official_client_reads_the_stream_tools_and_usage(sdk):
    stream = await sdk.chat.completions.create(
        model="chat-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(PIECES)
    assert chunks[-1].usage.completion_tokens == len(PIECES)
    completion = await sdk.chat.completions.create(
        model="chat-model", messages=MESSAGES, tools=[TOOL]
    )
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"


async def test_the_official_client_understands_the_error_bodies(sdk, openai_upstream):
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.chat.completions.create(model="limited-model", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "7"
    refused = openai.AsyncOpenAI(
        base_url=f"{openai_upstream.base_url}/v1", api_key="nope", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        await refused.models.list()
    assert caught.value.code == "invalid_api_key"
