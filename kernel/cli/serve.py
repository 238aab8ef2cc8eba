"""``notewell serve`` and ``notewell version``."""

from __future__ import annotations

import asyncio
import os
import signal

import click

from notewell.kernel import __version__


@click.command()
@click.option("--host", help="Address to bind (default: NOTEWELL_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default: NOTEWELL_PORT or 8080).")
@click.option("--workers", type=int, help="Server processes (default: NOTEWELL_WORKERS or 1).")
@click.option("--reload", is_flag=True, help="Restart when code changes (development).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """Run the Notewell server (HTTP API, web UI and real-time socket)."""
    from hypercorn.config import Config

    from notewell.kernel.cli.context import settings

    current = settings()
    config = Config()
    config.bind = [f"{host or current.host}:{port or current.port}"]
    config.workers = workers or current.workers
    config.use_reloader = reload
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = 10
    url = f"http://{host or current.host}:{port or current.port}"
    if config.workers > 1 or reload:
        from hypercorn.run import run

        config.application_path = "notewell.kernel.asgi:create_asgi_app()"
        click.echo(f"Notewell {__version__} serving on {url} ({config.workers} workers)")
        raise SystemExit(run(config))
    _serve_in_process(config, url)


def _serve_in_process(config: object, url: str) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from notewell.kernel.app import create_app
    from notewell.kernel.cli.context import settings

    app = create_app(settings())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"Notewell {__version__} serving on {url} (pid {os.getpid()})")
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())


@click.command()
def version() -> None:
    """Print Notewell's version."""
    click.echo(__version__)


commands = [serve, version]
