"""The rate-limit plugin's hook implementations."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.ratelimit.limiter import Limiter
from notewell.plugins.ratelimit.routes import EXTENSION, bp
from notewell.plugins.ratelimit.settings import RateLimitSettings


@hookimpl
def register_settings() -> type[RateLimitSettings]:
    return RateLimitSettings


@hookimpl
def register_routes() -> Blueprint:
    return bp


@hookimpl
def on_startup(app: Any) -> None:
    settings: RateLimitSettings = app.kernel.settings.plugin(RateLimitSettings.section)
    url = settings.storage_url or app.kernel.settings.redis_url
    app.extensions[EXTENSION] = Limiter(settings.classes, url, settings.redis_retry_seconds)


@hookimpl
async def on_shutdown(app: Any) -> None:
    limiter = app.extensions.pop(EXTENSION, None)
    if limiter is not None:
        await limiter.close()
