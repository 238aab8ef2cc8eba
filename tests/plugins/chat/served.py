"""Serve an app over a real socket (uvicorn, in this event loop), for tests of
streaming and disconnects that need one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from notewell.kernel.app import create_app
from notewell.testing.serving import serve_app


@contextlib.asynccontextmanager
async def served(settings: Any, plugins: list[Any]) -> AsyncIterator[tuple[Any, str]]:
    """A fresh app served on a free port until the block ends; ``(app, base_url)``."""
    app = create_app(settings, plugins=plugins)
    async with serve_app(app, graceful_s=5) as url:
        yield app, url
