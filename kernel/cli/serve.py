"""``notewell serve`` and ``notewell version``."""

from __future__ import annotations

import os

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
    from notewell.kernel.cli.context import settings

    current = settings()
    host, port = host or current.host, port or current.port
    workers = workers or current.workers
    url = f"http://{host}:{port}"
    if workers > 1 or reload:
        _serve_workers(host, port, workers, reload, url)
    else:
        _serve_in_process(host, port, url)


def _serve_workers(host: str, port: int, workers: int, reload: bool, url: str) -> None:
    """Several processes (or one that restarts on change): each builds its own app."""
    import uvicorn
    from uvicorn.supervisors import ChangeReload, Multiprocess

    from notewell.kernel.cli.context import run_async, settings, with_kernel
    from notewell.kernel.serving import server_config

    async def nothing(kernel: object) -> None:
        return None

    run_async(lambda: with_kernel(nothing, migrate=settings().migrate_on_start))
    config = server_config(
        "notewell.kernel.asgi:create_asgi_app", host=host, port=port, workers=workers, reload=reload
    )
    click.echo(f"Notewell {__version__} serving on {url} ({workers} workers)")
    sockets = [config.bind_socket()]
    if reload:
        ChangeReload(config, target=uvicorn.Server(config).run, sockets=sockets).run()
    else:
        Multiprocess(config, sockets=sockets).run()


def _serve_in_process(host: str, port: int, url: str) -> None:
    from notewell.kernel import serving
    from notewell.kernel.app import create_app
    from notewell.kernel.cli.context import settings

    app = create_app(settings())
    serving.settle_heap()
    server = serving.server(serving.server_config(app, host=host, port=port))

    async def main() -> None:
        try:
            await app.kernel.prepare()
        except BaseException:
            await app.kernel.db.dispose()
            raise
        click.echo(f"Notewell {__version__} serving on {url} (pid {os.getpid()})")
        await server.serve()  # SIGINT / SIGTERM: requests in flight finish, then exit 0

    serving.run(main)


@click.command()
def version() -> None:
    """Print Notewell's version."""
    click.echo(__version__)


commands = [serve, version]
