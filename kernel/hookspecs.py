"""The hook specifications: the one contract between the kernel and its plugins.

Three name shapes:

- ``register_<things>()`` returns a list (or a single item); all results are collected.
- ``<thing>_from_<source>()`` and ``permission_allowed()`` are ``firstresult``: the first
  non-``None`` answer wins; the kernel's own default is ``trylast`` and always answers.
- ``on_<event>()`` is a notification; return values are ignored.

Any hook may return an awaitable instead of a value; the kernel awaits it.
A plugin that raises in a hook is isolated: the error is logged with its traceback,
the plugin is shown as failed, and the other plugins' answers are used.

docs/plugins.md is generated from these docstrings (``python -m notewell.kernel.docgen``)
and a test fails when they drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic_settings import BaseSettings
    from quart import Blueprint, Response

    from notewell.kernel.actor import Actor
    from notewell.kernel.app import NotewellApp
    from notewell.kernel.errors import NotewellError
    from notewell.kernel.http import RequestInfo

hookspec = pluggy.HookspecMarker("notewell")
hookimpl = pluggy.HookimplMarker("notewell")


@hookspec
def register_routes() -> Blueprint | list[Blueprint]:
    """Return the plugin's Quart blueprint(s).

    Every view function must declare who may call it with a decorator from
    ``notewell.kernel.policy`` (``public``, ``signed_in``, ``user``, ``admin`` or
    ``requires("action")``); a route without one answers 403 to everyone and is
    reported at start-up. Routes of a plugin an admin disabled answer 404 until it is
    enabled again.

    Example::

        bp = Blueprint("hello", __name__, url_prefix="/api/v1/hello")

        @bp.get("")
        @policy.public
        async def hello():
            return {"hello": "world"}

        @hookimpl
        def register_routes():
            return bp
    """


@hookspec
def register_steps() -> list[type[Any]]:
    """Return the pipeline step classes this plugin provides.

    Each class subclasses ``notewell.kernel.pipelines.Step``, has a unique ``name``
    of the form ``<plugin>.<verb_noun>``, pydantic ``Inputs`` and ``Outputs`` models and
    an ``async run(inputs, ctx)`` method. Pipelines name steps by this name only.
    """


@hookspec
def register_settings() -> type[BaseSettings]:
    """Return the plugin's settings model (a ``notewell.kernel.settings.PluginSettings``).

    The class attribute ``section`` names it: its fields are read from
    ``NOTEWELL_<SECTION>__<FIELD>`` and from the ``[<section>]`` table of the config
    file, validated once at start-up together with the kernel's own settings, and shown
    by ``notewell config show``. Read them with ``kernel.settings.plugin("<section>")``;
    where there is no kernel (a heavy step in a worker process), with
    ``<YourSettings>.from_environment()``, which reads the same sources.
    """


@hookspec
def register_migrations() -> Path | list[Path]:
    """Return the folder(s) holding this plugin's Alembic revision files.

    Each plugin owns one Alembic branch, labelled with the plugin's name; its first
    revision has ``branch_labels = ("<plugin>",)`` and ``down_revision = None``.
    ``notewell migrate`` and migrate-on-start apply all branches.
    """


@hookspec
def register_commands() -> click.Command | list[click.Command]:
    """Return click commands or groups to add to the ``notewell`` CLI.

    Example: the auth plugin adds ``notewell user create``.
    """


@hookspec
def register_socket_handlers() -> Mapping[str, Callable[..., Any]]:
    """Return Socket.IO event handlers, keyed by event name.

    A handler is called as ``handler(actor=..., data=..., sid=...)`` for an
    authenticated connection and its return value is sent back as the acknowledgement.
    Handlers of a disabled plugin are not called.
    """


@hookspec
def register_hookspecs() -> Any:
    """Return a module or class of extra hook specifications this plugin publishes.

    This is how features cooperate without importing each other: the providers
    plugin publishes ``register_providers``, and other plugins implement it.
    """


@hookspec(firstresult=True)
def actor_from_request(request: RequestInfo) -> Actor | None:
    """Return the actor who made ``request``, or ``None`` if this plugin cannot tell.

    ``request`` is the Quart request for HTTP calls, or a ``RequestInfo`` with the
    handshake's ``headers``, ``cookies``, ``remote_addr``, ``method`` and ``path`` for
    Socket.IO connections. firstresult: the first plugin that returns an actor wins;
    the kernel's default answers ``ANONYMOUS``. Raise ``Unauthorized`` for credentials
    that are present but invalid (a forged or revoked token).

    A socket keeps the actor it connected as. When a user's credentials or roles change,
    call ``kernel.realtime.recheck(user_id)`` in every process (after dropping any cache
    of your own): the user's sockets are authenticated again from their handshakes, and
    those whose credentials no longer hold are disconnected.
    """


@hookspec(firstresult=True)
def permission_allowed(actor: Actor, action: str, resource: Any | None) -> bool | None:
    """Decide whether ``actor`` may perform ``action`` on ``resource``.

    Return ``True`` to allow, ``False`` to deny, ``None`` to leave it to other plugins.
    firstresult. The kernel's default (``trylast``) allows admins and denies everyone
    else. The policy ``user`` asks for the action ``"use"``; ``admin`` for ``"admin"``.
    """


@hookspec(firstresult=True)
def response_from_error(request: Any, error: NotewellError) -> Response | None:
    """Render ``error`` as an HTTP response for ``request``.

    firstresult. The kernel's default renders RFC 9457 ``application/problem+json``;
    a plugin may answer for its own routes (an API that mimics another product's wire
    format renders that product's error shape under its own prefix).
    """


@hookspec
def on_startup(app: NotewellApp) -> None:
    """Called once the app is serving: database ready, migrations applied, bus started."""


@hookspec
def on_shutdown(app: NotewellApp) -> None:
    """Called when the app stops serving, before the database and bus are closed."""


@hookspec
def on_run_started(run: Any) -> None:
    """Called when a pipeline run starts; ``run`` is the run record (``RunRead``)."""


@hookspec
def on_step_finished(run: Any, step: Any) -> None:
    """Called after each step of a run ends, whatever its status (``StepRunRead``)."""


@hookspec
def on_run_finished(run: Any) -> None:
    """Called when a run ends as succeeded, failed or cancelled. Metering hangs off this."""
