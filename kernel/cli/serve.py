"""``notewell serve`` and ``notewell version``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import click

from notewell.kernel import __version__


@click.command()
@click.option("--host", help="Address to bind (default: NOTEWELL_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default: NOTEWELL_PORT or 8080).")
@click.option("--workers", type=int, help="Server processes (default: NOTEWELL_WORKERS or 1).")
@click.option("--reload", is_flag=True, help="Restart when code changes (development).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """Run the Notewell server (HTTP API, web UI and real-time socket).

    The database is reached and migrated before the server starts listening, so a bad
    database URL or a failing migration is reported in one line.
    """
    from hypercorn.config import Config

    from notewell.kernel.cli.context import settings

    current = settings()
    config = Config()
    config.bind = [f"{host or current.host}:{port or current.port}"]
    config.workers = workers or current.workers
    config.use_reloader = reload
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # one JSON line, via our handler
    config.graceful_timeout = 10
    url = f"http://{host or current.host}:{port or current.port}"
    if config.workers > 1 or reload:
        _serve_workers(config, url)
    else:
        _serve_in_process(config, url)


def _serve_workers(config: Any, url: str) -> None:
    from hypercorn.run import run

    from notewell.kernel.cli.context import run_async, settings, with_kernel

    async def nothing(kernel: object) -> None:
        return None

    run_async(lambda: with_kernel(nothing, migrate=settings().migrate_on_start))
    config.application_path = "notewell.kernel.asgi:create_asgi_app()"
    click.echo(f"Notewell {__version__} serving on {url} ({config.workers} workers)")
    raise SystemExit(run(config))


def _serve_in_process(config: Any, url: str) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from notewell.kernel.app import create_app
    from notewell.kernel.cli.context import settings

    app = create_app(settings())

    async def main() -> None:
        try:
            await app.kernel.prepare()
        except BaseException:
            await app.kernel.db.dispose()
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"Notewell {__version__} serving on {url} (pid {os.getpid()})")
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(main())


@click.command()
def version() -> None:
    """Print Notewell's version."""
    click.echo(__version__)


commands = [serve, version]
