"""The OpenAI-compatible API's hook implementations."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from notewell.kernel.errors import NotewellError
from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.openai_api.render import API_PREFIX, error_response
from notewell.plugins.openai_api.settings import OpenAIApiSettings


@hookimpl
def register_settings() -> type[OpenAIApiSettings]:
    return OpenAIApiSettings


@hookimpl
def register_routes() -> Blueprint:
    from notewell.plugins.openai_api.routes import bp

    return bp


@hookimpl
def register_steps() -> list[type[Any]]:
    from notewell.plugins.openai_api.steps import CompleteStep, EmbedStep

    return [CompleteStep, EmbedStep]


@hookimpl
def response_from_error(request: Any, error: NotewellError) -> Response | None:
    """OpenAI's error shape for everything under ``/v1`` (unknown routes included)."""
    path = getattr(request, "path", "") or ""
    if path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
        return error_response(error)
    return None


@hookimpl
async def on_startup(app: Any) -> None:
    from notewell.plugins.openai_api import state

    await state.start(app.kernel)


@hookimpl
async def on_shutdown(app: Any) -> None:
    from notewell.plugins.openai_api import state

    await state.stop(app.kernel)
