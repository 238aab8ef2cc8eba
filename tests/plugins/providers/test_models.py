"""The shared model list and the gateway: merged, cached, invalidated through the bus,
filtered by permission; calls routed to the right connection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from notewell.kernel.actor import Actor
from notewell.kernel.errors import Forbidden
from notewell.kernel.events import Event
from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.providers.errors import ModelNotFound, ModelNotSupported
from notewell.plugins.providers.service import CHANGED_TOPIC

from .conftest import ADMIN, USER
from .servers.base import API_KEY, PIECES

ALICE = Actor(id="alice", kind="user", roles=frozenset({"user"}))
LOCAL_CHAT = "local/smollm2-135m-instruct"
LOCAL_EMBED = "local/all-minilm-l6-v2"


async def connect(client, **data) -> dict[str, Any]:
    response = await client.post("/api/v1/connections", json=data, headers=ADMIN)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def models(client, headers=USER) -> dict[str, Any]:
    response = await client.get("/api/v1/models", headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


def gateway(app):
    return app.kernel.plugins.first("model_gateway_from_kernel", kernel=app.kernel)


async def test_without_connections_the_local_models_are_offered(client):
    listed = {m["id"]: m for m in (await models(client))["data"]}
    assert listed[LOCAL_CHAT]["capabilities"] == ["chat"]
    assert listed[LOCAL_EMBED]["capabilities"] == ["embeddings"]
    assert listed[LOCAL_CHAT]["connection"] == "local"


async def test_connections_models_join_the_list_with_prefix_and_allow_list(
    client, openai_upstream, ollama_upstream
):
    await connect(
        client,
        name="oa",
        type="openai",
        base_url=f"{openai_upstream.base_url}/v1",
        api_key=API_KEY,
        prefix="oa/",
    )
    await connect(
        client,
        name="llama",
        type="ollama",
        base_url=ollama_upstream.base_url,
        api_key=API_KEY,
        models=["embed-model"],
    )
    listed = {m["id"]: m for m in (await models(client))["data"]}
    assert listed["oa/chat-model"]["connection"] == "oa"
    assert listed["oa/chat-model"]["context_length"] == 8192
    assert listed["oa/text-embedding-fake"]["capabilities"] == ["embeddings"]
    assert listed["embed-model"]["provider"] == "ollama"
    assert "chat-model" not in listed  # not on the allow-list of "llama"
    assert LOCAL_CHAT in listed


async def test_the_list_is_cached_and_a_change_rebuilds_it(client, openai_upstream):
    created = await connect(
        client, name="oa", type="openai", base_url=f"{openai_upstream.base_url}/v1", api_key=API_KEY
    )
    await models(client)
    await models(client)
    await models(client, headers=ADMIN)
    assert openai_upstream.model_lists == 1
    await client.patch(
        f"/api/v1/connections/{created['id']}", json={"enabled": False}, headers=ADMIN
    )
    assert "chat-model" not in {m["id"] for m in (await models(client))["data"]}
    await client.patch(
        f"/api/v1/connections/{created['id']}", json={"enabled": True}, headers=ADMIN
    )
    assert "chat-model" in {m["id"] for m in (await models(client))["data"]}
    assert openai_upstream.model_lists == 2


async def test_a_change_announced_on_the_bus_invalidates_the_list(app, client, openai_upstream):
    await connect(
        client, name="oa", type="openai", base_url=f"{openai_upstream.base_url}/v1", api_key=API_KEY
    )
    heard: list[Event] = []

    async def listen(event: Event) -> None:
        heard.append(event)

    app.kernel.bus.subscribe(listen, "providers.")
    await models(client)
    # as another server process would announce its change
    await app.kernel.bus.publish(Event(CHANGED_TOPIC, {"change": "updated", "id": "x"}))
    for _ in range(100):  # let the bus deliver (a bounded number of loop turns)
        if heard:
            break
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    await models(client)
    assert openai_upstream.model_lists == 2


async def test_a_failing_connection_is_reported_to_admins_and_hides_nothing_else(client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await connect(client, name="gone", type="openai", base_url=f"http://127.0.0.1:{port}/v1")
    as_admin = await models(client, headers=ADMIN)
    assert [e["code"] for e in as_admin["errors"]] == ["upstream_unreachable"]
    assert as_admin["errors"][0]["connection"] == "gone"
    as_user = await models(client)
    assert as_user["errors"] == []
    assert LOCAL_CHAT in {m["id"] for m in as_user["data"]}


async def test_only_signed_in_users_see_models(client):
    assert (await client.get("/api/v1/models")).status_code == 401


async def test_gateway_routes_chat_stream_and_embeddings_to_the_connection(
    app, client, openai_upstream
):
    await connect(
        client,
        name="oa",
        type="openai",
        base_url=f"{openai_upstream.base_url}/v1",
        api_key=API_KEY,
        prefix="oa/",
    )
    service = gateway(app)
    request = {"model": "oa/chat-model", "messages": [{"role": "user", "content": "Hi"}]}
    result = await service.chat(ALICE, request)
    assert (result.model, result.content) == ("oa/chat-model", "".join(PIECES))
    assert openai_upstream.requests[-1]["model"] == "chat-model"
    async with await service.stream(ALICE, request) as stream:
        chunks = [delta.content async for delta in stream]
    assert "".join(chunks) == "".join(PIECES)
    assert stream.result().usage.completion_tokens == len(PIECES)
    vectors = await service.embed(ALICE, "oa/text-embedding-fake", ["a", "b"])
    assert len(vectors.vectors) == 2
    assert vectors.to_openai()["model"] == "oa/text-embedding-fake"


async def test_gateway_refuses_unknown_models_wrong_capabilities_and_bad_shapes(app):
    service = gateway(app)
    with pytest.raises(ModelNotFound) as caught:
        await service.chat(ALICE, {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert caught.value.status == 404
    with pytest.raises(ModelNotSupported):
        await service.embed(ALICE, LOCAL_CHAT, ["text"])
    with pytest.raises(Exception) as caught:
        await service.chat(ALICE, {"model": LOCAL_CHAT, "messages": [{"role": "robot"}]})
    assert (caught.value.status, caught.value.code) == (422, "invalid_chat_request")


class DenyConnection:
    """An access-control plugin: nobody but admins may use models of connection "oa"."""

    __name__ = "deny_oa"

    @hookimpl(tryfirst=True)
    def permission_allowed(self, actor, action, resource):
        if action == "model.use" and getattr(resource, "connection", "") == "oa":
            return actor.is_admin
        return None


class TestAccessControl:
    """With a plugin that keeps users off connection "oa"."""

    @pytest.fixture
    def plugins(self, plugins):
        return [*plugins, DenyConnection()]

    async def test_a_permission_plugin_can_deny_models(self, app, client, openai_upstream):
        await connect(
            client,
            name="oa",
            type="openai",
            base_url=f"{openai_upstream.base_url}/v1",
            api_key=API_KEY,
        )
        assert "chat-model" not in {m["id"] for m in (await models(client))["data"]}
        assert "chat-model" in {m["id"] for m in (await models(client, headers=ADMIN))["data"]}
        with pytest.raises(Forbidden) as caught:
            await gateway(app).chat(
                ALICE, {"model": "chat-model", "messages": [{"role": "user", "content": "x"}]}
            )
        assert caught.value.code == "model_forbidden"


async def test_check_asks_the_upstream_now(client, openai_upstream):
    created = await connect(
        client, name="oa", type="openai", base_url=f"{openai_upstream.base_url}/v1", api_key="wrong"
    )
    response = await client.post(f"/api/v1/connections/{created['id']}/check", headers=ADMIN)
    checked = await response.get_json()
    assert checked["ok"] is False
    assert checked["error"]["code"] == "upstream_unauthorized"


async def test_a_local_model_whose_package_is_missing_is_not_offered(client, monkeypatch):
    from notewell.plugins.providers import local

    monkeypatch.setattr(local, "GGUF_PACKAGE", "no_such_model_package")
    listed = {m["id"] for m in (await models(client))["data"]}
    assert LOCAL_CHAT not in listed
    assert LOCAL_EMBED in listed


async def test_local_models_can_be_switched_off(make_app, monkeypatch):
    monkeypatch.setenv("NOTEWELL_PROVIDERS__LOCAL_MODELS", "false")
    async with make_app() as app:
        listed = await models(app.test_client())
    assert listed["data"] == []
