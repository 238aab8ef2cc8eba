"""Fixtures for the providers plugin's tests: an app with only this plugin (and a
header-trusting identity plugin), and fake upstreams."""

from __future__ import annotations

from typing import Any

import pytest

from notewell.kernel.hookspecs import hookimpl
from notewell.testing.actors import HeaderActors, as_actor

from .servers import ollama_server, openai_server
from .servers.base import ServerState, serve

ADMIN = as_actor("root", "admin")
USER = as_actor("alice", "user")


@pytest.fixture
def settings(settings: Any) -> Any:
    """Only this plugin from the installed ones, so other features stay out of the way."""
    return settings.model_copy(update={"plugins": ["providers"]})


class ModelUsers:
    """Stands in for the auth plugin's default: approved users may use every model."""

    __name__ = "test_model_users"

    @hookimpl
    def permission_allowed(self, actor: Any, action: str, resource: Any) -> bool | None:
        if action == "model.use" and actor.roles & {"user", "admin"}:
            return True
        return None


@pytest.fixture
def plugins() -> list[Any]:
    return [HeaderActors(), ModelUsers()]


@pytest.fixture
def local_models() -> None:
    """The embedded local models' packages: skip locally without them, fail under CI."""
    from notewell.plugins.providers import local
    from notewell.testing import service_unavailable

    for model in (local.CHAT_MODEL_ID, local.EMBED_MODEL_ID):
        if not local.available(model):
            service_unavailable(model, RuntimeError("see requirements/local-models.txt"))


@pytest.fixture
async def openai_upstream():
    state = ServerState()
    async with serve(openai_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state


@pytest.fixture
async def ollama_upstream():
    state = ServerState()
    async with serve(ollama_server.make_app(state)) as base_url:
        state.base_url = base_url
        yield state
