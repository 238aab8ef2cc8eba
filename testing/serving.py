"""Serve an app over a real socket, in the test's event loop, the way ``notewell serve``
does (uvicorn, ``notewell.kernel.serving``): for tests of streaming, disconnects and
WebSockets that a test client cannot show."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from notewell.testing.services import free_port


@contextlib.asynccontextmanager
async def serve_app(app: Any, *, graceful_s: float = 2.0) -> AsyncIterator[str]:
    """Serve ``app`` on a free port until the block ends; yields its base URL.

    The app's lifespan (start-up and shutdown) goes through ASGI, as in production.
    """
    from notewell.kernel import serving

    port = free_port()
    config = serving.server_config(app, host="127.0.0.1", port=port, graceful_s=graceful_s)
    server = serving.server(config, handle_signals=False)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: say why
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
