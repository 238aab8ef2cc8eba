"""The database (engine, session scope, UTC timestamps) and the throwaway-server fixtures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError, StatementError

from notewell.kernel.db import Database, UTCDateTime, database_url
from notewell.kernel.errors import StartupError
from notewell.testing.services import PostgresServer, free_port

pytest_plugins = ("pytester",)

metadata = MetaData()
note = Table(
    "test_note",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(40), nullable=False),
    Column("at", UTCDateTime()),
)
parent = Table("test_parent", metadata, Column("id", Integer, primary_key=True))
child = Table(
    "test_child",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("test_parent.id"), nullable=False),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'plain.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def bodies(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(note.c.body).order_by(note.c.id))).all())


# -- SQLite settings ----------------------------------------------------------------------


async def test_sqlite_pragmas_are_in_effect(sqlite_db):
    async with sqlite_db.engine.connect() as connection:
        pragmas = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000,
                       "synchronous": 1}  # fmt: skip


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            await session.execute(insert(child).values(id=1, parent_id=42))


def test_plain_urls_use_the_async_drivers():
    assert database_url("postgresql://u@db/notewell").drivername == "postgresql+asyncpg"
    assert database_url("postgres://u@db/notewell").drivername == "postgresql+asyncpg"
    assert database_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert database_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"


# -- the session scope --------------------------------------------------------------------


async def test_session_commits_when_the_block_ends(db):
    async with db.session() as session:
        await session.execute(insert(note).values(id=1, body="kept"))

    assert await bodies(db) == ["kept"]


async def test_session_rolls_back_when_the_block_raises(db):
    async with db.session() as session:
        await session.execute(insert(note).values(id=1, body="kept"))
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await session.execute(insert(note).values(id=2, body="lost"))
            await session.flush()
            raise RuntimeError("boom")

    assert await bodies(db) == ["kept"]


# -- UTC timestamps -----------------------------------------------------------------------


async def test_utc_datetime_round_trips_timezone_aware(db):
    written = datetime(
        2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    async with db.session() as session:
        await session.execute(insert(note).values(id=1, body="t", at=written))
    async with db.session() as session:
        read = (await session.scalars(select(note.c.at))).one()

    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)
    assert read == written


async def test_utc_datetime_compares_in_queries(db):
    async with db.session() as session:
        await session.execute(
            insert(note).values(id=1, body="t", at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    later = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=3)))  # 23:00 UTC the day before
    async with db.session() as session:
        found = (await session.scalars(select(note.c.id).where(note.c.at > later))).all()

    assert found == [1]


async def test_naive_datetime_is_refused(db):
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as session:
            await session.execute(insert(note).values(id=1, body="t", at=datetime(2026, 1, 1)))


# -- bad URLs are one clear start-up error -----------------------------------------------


async def test_unreachable_database_is_a_startup_error():
    database = Database(f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere")
    try:
        with pytest.raises(StartupError) as caught:
            await database.check_reachable()
    finally:
        await database.dispose()

    message = str(caught.value)
    assert message.startswith("NOTEWELL_DATABASE_URL: cannot connect")
    assert "\n" not in message


def test_sqlite_folder_that_cannot_be_created_is_a_startup_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StartupError, match="NOTEWELL_DATABASE_URL"):
        Database(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_unsupported_driver_is_a_startup_error():
    with pytest.raises(StartupError, match="NOTEWELL_DATABASE_URL"):
        Database("nosuchdb://host/x")


# -- the throwaway servers behind the fixtures ------------------------------------------------


@pytest.mark.integration
def test_throwaway_postgres_leaves_nothing_behind():
    server = PostgresServer()
    try:
        server.start()
        assert (server.data / "postmaster.pid").exists()
    finally:
        server.close()

    assert not server.root.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


@pytest.mark.integration
def test_servers_are_cleaned_up_when_the_test_process_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        from notewell.testing.services import RedisServer
        server = RedisServer()
        server.start()
        print(server.process.pid, server.dir, flush=True)
        time.sleep(120)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid, folder = owner.stdout.readline().split()
    owner.send_signal(signal.SIGKILL)
    owner.wait()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (_alive(int(pid)) or Path(folder).exists()):
        time.sleep(0.1)
    assert not _alive(int(pid))
    assert not Path(folder).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of a dead parent may linger as a zombie until init reaps it
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.mark.integration
@pytest.mark.parametrize("ci", ["", "true"])
def test_service_that_cannot_start_skips_locally_and_fails_under_ci(pytester, monkeypatch, ci):
    monkeypatch.delenv("NOTEWELL_TEST_POSTGRES_URL", raising=False)
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(
        """
        import notewell.testing as fixtures
        from notewell.testing.services import ServiceUnavailable

        class Broken:
            def __init__(self):
                raise ServiceUnavailable("initdb is not installed")

        fixtures.PostgresServer = Broken
        """
    )
    pytester.makepyfile("def test_needs_postgres(postgres_server_url):\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    if ci:
        result.assert_outcomes(errors=1)
    else:
        result.assert_outcomes(skipped=1)
