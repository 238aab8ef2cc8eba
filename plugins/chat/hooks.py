"""The chat plugin's hook implementations: its face to the kernel and other plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint

from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.chat.settings import ChatSettings


@hookimpl
def register_settings() -> type[ChatSettings]:
    return ChatSettings


@hookimpl
def register_migrations() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def register_routes() -> list[Blueprint]:
    from notewell.plugins.chat import library_routes, routes

    return [routes.bp, library_routes.bp]


@hookimpl
def register_steps() -> list[type[Any]]:
    from notewell.plugins.chat.steps import CleanTitleStep, ReplyStep

    return [ReplyStep, CleanTitleStep]


@hookimpl
async def on_startup(app: Any) -> None:
    """Finish answers a crashed process left streaming."""
    from notewell.plugins.chat.recovery import recover
    from notewell.plugins.chat.state import state_of

    state = state_of(app.kernel)
    await recover(
        app.kernel,
        app.kernel.db,
        state.turns,
        state.generations.publisher,
        set(state.generations.live),
    )


@hookimpl
async def on_shutdown(app: Any) -> None:
    """Let answers save their final state (the kernel has already ended their runs)."""
    from notewell.plugins.chat.state import forget

    state = forget(app.kernel)
    if state is not None:
        await state.generations.shutdown()
        await state.titler.shutdown()


@hookimpl(optionalhook=True)
async def on_user_deleted(user_id: str) -> None:
    """Delete the user's chats, messages, folders, tags, presets and share links.

    Published by the auth plugin; optional, so that the chat plugin loads without it.
    """
    from notewell.kernel.app import current_kernel
    from notewell.plugins.chat.state import state_of

    await state_of(current_kernel()).chats.delete_user(user_id)
