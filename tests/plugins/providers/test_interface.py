"""The provider interface's data: OpenAI-shaped views (what /v1 routes send), folding
deltas into an answer, request validation, and a start-up that loads no model."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from notewell.plugins.providers.interface import (
    ChatAccumulator,
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbeddingResult,
    ToolCall,
    ToolCallDelta,
    ToolCallFunction,
    Usage,
)


def test_deltas_fold_into_text_tool_calls_finish_and_usage():
    acc = ChatAccumulator("m")
    acc.add(ChatDelta(content="Hel"))
    acc.add(ChatDelta(content="lo"))
    acc.add(ChatDelta(tool_calls=[ToolCallDelta(index=0, id="c1", name="f", arguments='{"a"')]))
    acc.add(ChatDelta(tool_calls=[ToolCallDelta(index=0, arguments=": 1}")]))
    acc.add(ChatDelta(finish_reason="tool_calls", usage=Usage(3, 4)))
    result = acc.result()
    assert result.content == "Hello"
    assert result.tool_calls[0].function.arguments == '{"a": 1}'
    assert (result.finish_reason, result.usage.total_tokens) == ("tool_calls", 7)


def test_openai_views_have_openai_shapes():
    call = ToolCall(id="c1", function=ToolCallFunction(name="f", arguments="{}"))
    completion = ChatResult("m", "", [call], "tool_calls", Usage(1, 2)).to_openai(id="x", created=5)
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    assert completion["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    chunk = ChatDelta(content="Hi").to_openai_chunk(id="x", model="m", created=5)
    assert chunk["choices"] == [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]
    first_call = ChatDelta(tool_calls=[ToolCallDelta(index=0, id="c1", name="f")])
    assert first_call.to_openai_chunk(id="x", model="m")["choices"][0]["delta"] == {
        "tool_calls": [
            {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
        ]
    }
    usage = Usage(1, 2).to_openai_chunk(id="x", model="m", created=5)
    assert (usage["choices"], usage["usage"]["total_tokens"]) == ([], 3)
    embedded = EmbeddingResult("e", [[0.1], [0.2]], Usage(4, 0)).to_openai()
    assert [row["index"] for row in embedded["data"]] == [0, 1]
    assert embedded["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_requests_of_the_wrong_shape_are_refused():
    for bad in (
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        {"model": "", "messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 7},
    ):
        with pytest.raises(ValidationError):
            ChatRequest.model_validate(bad)


def test_starting_and_listing_models_loads_no_model(tmp_path):
    code = textwrap.dedent(f"""
        import asyncio, sys
        from notewell.kernel.app import create_app
        from notewell.kernel.settings import Settings
        from notewell.testing.actors import HeaderActors, as_actor

        async def main():
            settings = Settings.load(data_dir={str(tmp_path)!r}, plugins=["providers"],
                                     secret_key="k" * 32, log_level="ERROR")
            app = create_app(settings, plugins=[HeaderActors()])
            async with app.test_app():
                response = await app.test_client().get("/api/v1/models",
                                                       headers=as_actor("alice"))
                assert response.status_code == 200
            heavy = ("llama_cpp", "onnxruntime", "langchain_core", "torch", "tokenizers")
            print([name for name in heavy if name in sys.modules])

        asyncio.run(main())
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
