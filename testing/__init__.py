"""pytest fixtures for Notewell and its plugins (registered through the ``pytest11`` entry point).

Fixtures:

- ``settings``: kernel settings on a temporary data folder and SQLite; override it in
  your ``conftest.py`` to change anything.
- ``plugins``: extra plugin objects (modules or instances) the ``app`` should load;
  empty by default — override it to test a plugin that is not installed.
- ``app``: the app from ``create_app(settings, plugins=plugins)``, serving (its
  lifespan has run: migrations applied, bus started). ``client``: its test client.
- ``bare_app``: an app with only the kernel's default plugins.
- ``make_app``: an async context manager factory, ``async with make_app(**overrides)``.
- ``register_plugin``: ``with register_plugin(obj): ...`` adds a plugin to apps made
  inside the block.
- ``postgres_server_url`` / ``redis_server`` (session-scoped real servers) and
  ``database_url`` (parametrised: a fresh SQLite file and a fresh PostgreSQL database).
- ``celery_worker``: a real ``notewell worker`` subprocess, ready, on every queue;
  ``celery_workers.start(queues=..., concurrency=...)`` starts more (each has
  ``kill()``, ``stop()``, ``restart()``, ``pid`` and its ``log``); all are stopped at
  the end, by process group. They use ``celery_broker_url``, a Redis database of the
  test's own; point the app at it and load your plugin in the workers::

      @pytest.fixture
      def settings(settings, celery_broker_url):
          return settings.model_copy(update={"broker_url": celery_broker_url})

      @pytest.fixture
      def celery_worker_env():
          return {"NOTEWELL_PLUGINS": "my_plugin"}  # plus NOTEWELL_PLUGIN_DIRS, ...
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from notewell.testing.services import (
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
    create_database,
    drop_database,
    postgres_url,
)
from notewell.testing.workers import CeleryWorker, CeleryWorkers, worker_env

_EXTRA_PLUGINS: list[Any] = []
_BROKER_DATABASES = itertools.count()


def service_unavailable(what: str, exc: Exception) -> None:
    """Skip locally, but fail under CI, when a real service cannot start."""
    message = f"{what} unavailable: {exc}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from notewell.kernel.settings import Settings

    return Settings.load(
        data_dir=tmp_path / "data",
        log_format="console",
        log_level="WARNING",
        secret_key="test-secret-key-not-for-production",
    )


@pytest.fixture
def plugins() -> list[Any]:
    return []


@pytest.fixture
def make_app(settings: Any, plugins: list[Any]) -> Callable[..., Any]:
    from notewell.kernel.app import create_app

    @contextlib.asynccontextmanager
    async def factory(
        *, extra_plugins: tuple[Any, ...] = (), **overrides: Any
    ) -> AsyncIterator[Any]:
        merged = settings.model_copy(update=overrides) if overrides else settings
        app = create_app(merged, plugins=[*plugins, *_EXTRA_PLUGINS, *extra_plugins])
        app.testing = True
        async with app.test_app():
            yield app

    return factory


@pytest.fixture
async def app(make_app: Callable[..., Any]) -> AsyncIterator[Any]:
    async with make_app() as app:
        yield app


@pytest.fixture
async def bare_app(make_app: Callable[..., Any]) -> AsyncIterator[Any]:
    async with make_app(plugins=[]) as app:
        yield app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def register_plugin() -> Callable[[Any], Any]:
    @contextlib.contextmanager
    def register(obj: Any) -> Iterator[Any]:
        _EXTRA_PLUGINS.append(obj)
        try:
            yield obj
        finally:
            _EXTRA_PLUGINS.remove(obj)

    return register


def _started(what: str, factory: Callable[[], Any]) -> Any:
    """Build and start a server; if it cannot start, clean up and skip (fail under CI)."""
    server = None
    try:
        server = factory()
        server.start()
    except ServiceUnavailable as exc:
        if server is not None:
            server.close()
        service_unavailable(what, exc)
    return server


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server URL for the session: NOTEWELL_TEST_POSTGRES_URL or a throwaway."""
    configured = os.environ.get("NOTEWELL_TEST_POSTGRES_URL")
    if configured:
        yield postgres_url(configured)
        return
    server = _started("PostgreSQL", PostgresServer)
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    """A real Redis for the session (``None`` when NOTEWELL_TEST_REDIS_URL is used)."""
    if os.environ.get("NOTEWELL_TEST_REDIS_URL"):
        yield None
        return
    server = _started("Redis", RedisServer)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer | None) -> str:
    """The URL of the session's Redis."""
    if redis_server is None:
        return os.environ["NOTEWELL_TEST_REDIS_URL"]
    return redis_server.url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind (the PostgreSQL one is dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    url = create_database(server_url)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def celery_broker_url(redis_url: str) -> Iterator[str]:
    """A Redis database of this test's own (1 to 15 on the session's Redis) for Celery's
    queues and the step attempts' keys; emptied before and after the test."""
    from redis import Redis

    number = 1 + next(_BROKER_DATABASES) % 15
    url = urlsplit(redis_url)._replace(path=f"/{number}").geturl()
    client = Redis.from_url(url)
    try:
        client.flushdb()
        yield url
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Environment variables added to the workers' (override it: the plugins to load)."""
    return {}


@pytest.fixture
def celery_workers(
    celery_broker_url: str, celery_worker_env: dict[str, str], tmp_path: Path
) -> Iterator[CeleryWorkers]:
    """Starts real ``notewell worker`` subprocesses on ``celery_broker_url``; stops them
    all afterwards. Their logs are in ``tmp_path / "celery-workers"``."""
    env = worker_env(celery_broker_url, tmp_path / "celery-worker-data", celery_worker_env)
    workers = CeleryWorkers(celery_broker_url, env, tmp_path / "celery-workers")
    try:
        yield workers
    finally:
        workers.stop_all()


@pytest.fixture
def celery_worker(celery_workers: CeleryWorkers) -> CeleryWorker:
    """A ready ``notewell worker`` taking steps from every queue, with one process."""
    return celery_workers.start()
