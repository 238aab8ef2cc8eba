"""Database migrations: Alembic, one branch per plugin, applied under a lock.

The kernel owns the ``kernel`` branch; each plugin hands in its own folder of
revisions through the ``register_migrations`` hook. All pending revisions are applied
in one transaction, so a failed migration leaves the schema as it was on databases
with transactional DDL (PostgreSQL and SQLite both qualify). Several processes
starting at once take turns on a lock — a PostgreSQL advisory lock, or a file lock
beside the SQLite file — and the second finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from notewell.kernel.db import Database

SCRIPT_LOCATION = Path(__file__).parent / "migrations"
KERNEL_VERSIONS = SCRIPT_LOCATION / "versions"
ADVISORY_LOCK_ID = 0x6E6F7465  # "note"


class MigrationError(Exception):
    """A migration failed; the schema was left as it was before the attempt."""


@dataclass(frozen=True)
class Step:
    """One revision applied or to apply."""

    revision: str
    branch: str
    description: str


def alembic_config(version_locations: Iterable[Path]) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    locations = [str(KERNEL_VERSIONS), *(str(p) for p in version_locations)]
    config.set_main_option("version_locations", " ".join(dict.fromkeys(locations)))
    config.set_main_option("path_separator", "space")
    return config


class Migrator:
    """Applies and inspects migrations on one database."""

    def __init__(self, database: Database, version_locations: Iterable[Path] = ()) -> None:
        self.database = database
        self.config = alembic_config(version_locations)
        self.script = ScriptDirectory.from_config(self.config)

    async def pending(self) -> list[Step]:
        """Revisions not yet applied, in the order they would be applied."""
        async with self._connection() as connection:
            return await connection.run_sync(self._pending)

    def _pending(self, connection: Connection) -> list[Step]:
        current = set(MigrationContext.configure(connection).get_current_heads())
        applied: set[str] = set()
        for head in current:
            applied.update(rev.revision for rev in self.script.iterate_revisions(head, "base"))
        todo = [
            rev
            for rev in self.script.walk_revisions("base", "heads")
            if rev.revision not in applied
        ]
        return [self._step(rev) for rev in reversed(todo)]

    def _step(self, revision: Any) -> Step:
        root = revision
        while root.down_revision is not None and not root.branch_labels:
            down = root.down_revision
            root = self.script.get_revision(down if isinstance(down, str) else down[0])
        branch = sorted(root.branch_labels)[0] if root.branch_labels else ""
        return Step(revision=revision.revision, branch=branch, description=revision.doc or "")

    async def current(self) -> list[str]:
        async with self._connection() as connection:
            return await connection.run_sync(
                lambda c: list(MigrationContext.configure(c).get_current_heads())
            )

    async def upgrade(
        self, target: str = "heads", on_step: Callable[[Step], None] | None = None
    ) -> list[Step]:
        """Apply revisions up to ``target`` under the lock; return those applied."""
        return await self._run("upgrade", target, on_step)

    async def downgrade(
        self, target: str, on_step: Callable[[Step], None] | None = None
    ) -> list[Step]:
        """Revert revisions down to ``target`` (``base``, a revision, ``<branch>@base``)."""
        return await self._run("downgrade", target, on_step)

    async def _run(
        self, direction: str, target: str, on_step: Callable[[Step], None] | None
    ) -> list[Step]:
        applied: list[Step] = []

        def record(*, step: Any, **_: Any) -> None:
            done = self._step(self.script.get_revision(step.up_revision_id))
            applied.append(done)
            if on_step is not None:
                on_step(done)

        self.config.attributes["on_version_apply"] = record
        async with self._lock(), self._connection(transactional_ddl=True) as connection:
            try:
                await connection.run_sync(self._command, direction, target)
            except Exception as exc:
                raise MigrationError(
                    f"migration failed, nothing was changed: {type(exc).__name__}: {exc}"
                ) from exc
        return applied

    def _command(self, connection: Connection, direction: str, target: str) -> None:
        self.config.attributes["connection"] = connection
        getattr(command, direction)(self.config, target)

    @contextlib.asynccontextmanager
    async def _connection(self, transactional_ddl: bool = False) -> AsyncIterator[AsyncConnection]:
        if not (transactional_ddl and self.database.is_sqlite):
            async with self.database.engine.connect() as connection:
                yield connection
            return
        # pysqlite does not put DDL in a transaction by itself; make it (so a failed
        # migration rolls back whole), on an engine of its own
        engine = create_async_engine(self.database.url)

        @event.listens_for(engine.sync_engine, "connect")
        def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.cursor().execute("PRAGMA busy_timeout=30000")

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        try:
            async with engine.connect() as connection:
                yield connection
        finally:
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def _lock(self) -> AsyncIterator[None]:
        if self.database.is_sqlite:
            path = Path(f"{self.database.url.database}.migrate.lock")
            handle = path.open("w")
            try:
                await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        async with self.database.engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
            try:
                yield
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID}
                )
