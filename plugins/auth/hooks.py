"""The auth plugin's hook implementations: its face to the kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from quart import Blueprint

from notewell.kernel.actor import Actor
from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.auth import hookspecs, identity, state
from notewell.plugins.auth.settings import AuthSettings


@hookimpl
def register_settings() -> type[AuthSettings]:
    return AuthSettings


@hookimpl
def register_migrations() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def register_routes() -> list[Blueprint]:
    from notewell.plugins.auth import admin_routes, routes

    return [routes.bp, admin_routes.bp]


@hookimpl
def register_commands() -> click.Command:
    from notewell.plugins.auth.cli import user

    return user


@hookimpl
def register_hookspecs() -> Any:
    return hookspecs


@hookimpl
async def on_startup(app: Any) -> None:
    await state.install(app).start()


@hookimpl
async def on_shutdown(app: Any) -> None:
    found = app.extensions.pop(state.EXTENSION, None)
    if found is not None:
        await found.stop()


@hookimpl
def actor_from_request(request: Any) -> Any:
    """The session cookie, a Bearer session token or a Bearer API key's actor."""
    current = state.current_state()
    if current is None:
        return None
    return identity.actor_for(current, request)


@hookimpl
def permission_allowed(actor: Actor, action: str, resource: Any | None) -> bool | None:
    """Roles, then grants to the user and their groups (see ``grants``)."""
    current = state.current_state()
    if current is None:
        return None
    return current.grants.decide(actor, action, resource, current.settings.default_deny)
