"""What CLI commands share: settings, the plugin host, an app, running async code."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from notewell.kernel.plugins import PluginHost
from notewell.kernel.settings import Settings

T = TypeVar("T")


@functools.cache
def settings() -> Settings:
    return Settings.load()


@functools.cache
def plugin_host() -> PluginHost:
    """Plugins loaded as the server would load them (settings validated too)."""
    current = settings()
    host = PluginHost()
    host.load(
        only=current.plugins,
        disabled=current.disabled_plugins,
        plugin_dirs=current.plugin_dirs,
    )
    from notewell.kernel.app import _settings_models

    current.bind_plugins(_settings_models(host))
    return host


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


async def with_kernel(body: Callable[[Any], Awaitable[T]], *, migrate: bool = False) -> T:
    """Build the app, open its database, run ``body(kernel)``, close everything."""
    from notewell.kernel.app import create_app

    app = create_app(settings())
    kernel = app.kernel
    try:
        await kernel.db.check_reachable()
        if migrate:
            await kernel.migrator().upgrade()
        return await body(kernel)
    finally:
        await kernel.db.dispose()
