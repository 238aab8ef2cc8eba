"""The pipelines the chat and openai_api plugins ship validate against the installed
steps, and run."""

from __future__ import annotations

import pytest

from notewell.kernel.pipelines.catalog import packaged_pipeline_dir
from notewell.kernel.pipelines.validate import validate_file

from .conftest import ALICE, connect

SHIPPED = ["chat.yaml", "chat-title.yaml", "openai-chat.yaml", "openai-embeddings.yaml"]


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"plugins": ["chat", "providers", "openai_api"]})


@pytest.mark.parametrize("name", SHIPPED)
async def test_shipped_pipelines_validate(app, name):
    loaded, issues = validate_file(packaged_pipeline_dir() / name, app.kernel.pipelines.registry)
    assert loaded is not None and issues == []


async def test_the_pipelines_run_on_their_own(app, client, upstream):
    await connect(client, upstream)
    runs = {
        "chat-title": {"model": "echo", "prompt": "Moon facts", "answer": "The moon is…"},
        "openai-chat": {
            "request": {"model": "echo", "messages": [{"role": "user", "content": "hey"}]}
        },
        "openai-embeddings": {"model": "embedder", "input": ["abc"]},
        "chat": {
            "chat_id": "c",
            "message_id": "m",
            "model": "echo",
            "messages": [{"role": "user", "content": "direct"}],
        },
    }
    outputs = {}
    for name, inputs in runs.items():
        response = await client.post(
            f"/api/v1/pipelines/{name}/runs?wait=true", json={"inputs": inputs}, headers=ALICE
        )
        run = await response.get_json()
        assert response.status_code == 200 and run["status"] == "succeeded", run
        outputs[name] = run["outputs"]
    assert outputs["chat-title"]["title"].startswith("You said: Write a title")
    assert outputs["openai-chat"]["content"] == "You said: hey"
    assert outputs["openai-embeddings"]["vectors"] == [[3.0, 1.0, 0.5]]
    assert outputs["chat"]["content"] == "You said: direct"
