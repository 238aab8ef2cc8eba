"""``notewell worker``: a Celery worker for heavy and GPU pipeline steps."""

from __future__ import annotations

import os
import socket
import sys

import click

from notewell.kernel.pipelines.executors import BATCH, GPU, INTERACTIVE

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
VISIBILITY_TIMEOUT_S = 60  # kept here so that `notewell --help` does not import Celery


def _queue_names(value: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise click.BadParameter("name at least one queue")
    return names


@click.command()
@click.option(
    "--queues",
    "-Q",
    default=",".join((INTERACTIVE, BATCH, GPU)),
    show_default=True,
    help="Comma-separated queues to take steps from. Run one worker per queue (or queue "
    "group) so a backlog on one cannot hold up another; give `gpu` to GPU machines.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    help="Processes running steps (default: NOTEWELL_WORKER_POOL_SIZE, else one per CPU).",
)
@click.option(
    "--loglevel",
    "-l",
    type=click.Choice(LEVELS, case_sensitive=False),
    help="Lowest level logged (default: NOTEWELL_LOG_LEVEL).",
)
@click.option(
    "--visibility-timeout",
    type=click.IntRange(min=1),
    default=VISIBILITY_TIMEOUT_S,
    show_default=True,
    help="Seconds after which the step of a worker that died unseen goes back to its queue. "
    "Use the same value on every worker.",
)
def worker(
    queues: str, concurrency: int | None, loglevel: str | None, visibility_timeout: int
) -> None:
    """Run a Celery worker that executes pipeline steps sent to QUEUES.

    The worker reads the same settings as the server (NOTEWELL_BROKER_URL, else
    NOTEWELL_REDIS_URL, must name the Redis the server uses) and loads the same plugins,
    so it offers the same steps. Each process builds a step class once and warms it up
    once. Steps are acknowledged when they end: a worker killed mid-step gives its step
    to another worker, which runs it again only if the step is idempotent.
    """
    from notewell.kernel.celery_app import create_celery_app, redis_url_of
    from notewell.kernel.cli.context import plugin_host, settings
    from notewell.kernel.logs import configure_logging
    from notewell.kernel.pipelines.executors.celery_worker import WorkerRuntime, install
    from notewell.kernel.pipelines.registry import StepRegistry

    current = settings()
    level = (loglevel or current.log_level).upper()
    secrets = (current.secret_key.get_secret_value(),) if current.secret_key else ()
    configure_logging(level, current.log_format, secrets)
    names = _queue_names(queues)
    registry = StepRegistry(plugin_host())
    app = create_celery_app(current, visibility_timeout=visibility_timeout)
    node = f"notewell-{os.getpid()}@{socket.gethostname()}"
    runtime = WorkerRuntime(
        registry,
        redis_url_of(current),
        node=node,
        queues=names,
        visibility_timeout=visibility_timeout,
    )
    install(app, runtime)
    celery_worker = app.Worker(
        hostname=node,
        queues=names,
        concurrency=concurrency or current.worker_pool_size or os.cpu_count() or 1,
        loglevel=level,
        pool_cls="prefork",
        optimization="fair",
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
    )
    celery_worker.start()
    sys.exit(celery_worker.exitcode)


commands = [worker]
