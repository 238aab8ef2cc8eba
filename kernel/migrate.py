"""Database migrations: Alembic, one branch per owner, applied in one transaction under a lock.

The kernel owns the ``kernel`` branch; each plugin hands in its own folder of
revisions through the ``register_migrations`` hook, and its first revision carries the
plugin's name as branch label. All pending revisions are applied in one transaction
that this module opens itself (Alembic would otherwise commit after each revision on
SQLite), so a failed migration leaves the schema exactly as it was: PostgreSQL and
SQLite both roll DDL back. Several processes starting at once take turns — a
PostgreSQL advisory lock held for the transaction, or a file lock beside the SQLite
file — and the later ones find nothing left to do.

Revisions recorded in the version table that no loaded plugin provides (a plugin
that was uninstalled or left out by settings) are kept as they are and reported by
:meth:`Migrator.status`; they do not block the other branches.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import NullPool, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from notewell.kernel.db import BUSY_TIMEOUT_S, Database
from notewell.kernel.errors import StartupError

log = logging.getLogger("notewell.migrate")

SCRIPT_LOCATION = Path(__file__).parent / "migrations"
KERNEL_VERSIONS = SCRIPT_LOCATION / "versions"
VERSION_TABLE = "alembic_version"
KERNEL_BRANCH = "kernel"
ADVISORY_LOCK_ID = 0x6E6F7465  # "note"
LOCK_POLL_S = 0.1

T = TypeVar("T")


class MigrationError(StartupError):
    """A migration failed or could not be attempted; the schema was left as it was.

    ``step`` is the revision that raised, when it is known.
    """

    def __init__(self, message: str, *, step: Step | None = None) -> None:
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class Step:
    """One revision applied, reverted, or still to apply."""

    revision: str
    branch: str
    description: str


@dataclass(frozen=True)
class BranchStatus:
    """Where one branch stands: what the database has and what the code provides."""

    branch: str
    current: list[str]
    heads: list[str]
    pending: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Status:
    """Every branch's status, and revisions in the database that no loaded code knows."""

    branches: list[BranchStatus]
    unknown: list[str]

    @property
    def pending(self) -> list[Step]:
        """All pending revisions, in the order they would be applied."""
        return [step for branch in self.branches for step in branch.pending]


def alembic_config(version_locations: Iterable[Path]) -> Config:
    """An Alembic config over the kernel's revisions and the given folders (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    locations = [str(KERNEL_VERSIONS), *(str(p) for p in version_locations)]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(dict.fromkeys(locations)))
    return config


class Migrator:
    """Applies, reverts and inspects migrations on one database."""

    def __init__(self, database: Database, version_locations: Iterable[Path | str] = ()) -> None:
        folders = [Path(p).resolve() for p in version_locations]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            raise MigrationError(f"migration folder(s) do not exist: {', '.join(missing)}")
        self.database = database
        self.config = alembic_config(folders)
        self.script = ScriptDirectory.from_config(self.config)
        try:
            with warnings.catch_warnings():
                # Alembic only warns when two files share a revision id, and uses one of them
                warnings.filterwarnings("error", "Revision .* is present more than once")
                self.branches = self._branch_of_each_revision()
        except Exception as exc:  # loading revision files runs plugin code; any error is fatal
            raise MigrationError(
                f"cannot load the migration scripts: {type(exc).__name__}: {_first_line(exc)}"
            ) from exc

    # -- reading -----------------------------------------------------------------------

    async def current(self) -> list[str]:
        """The revisions recorded in the database (one per branch that has any)."""
        return await self._read(_recorded_heads)

    async def pending(self) -> list[Step]:
        """Revisions not yet applied, in the order they would be applied."""
        return (await self.status()).pending

    async def status(self) -> Status:
        """Current against pending, per branch."""
        return await self._read(self._status)

    async def _read(self, reader: Callable[[Connection], T]) -> T:
        try:
            async with self.database.engine.connect() as connection:
                return await connection.run_sync(reader)
        except (SQLAlchemyError, OSError) as exc:
            raise MigrationError(
                f"cannot read the migration state: {type(exc).__name__}: {_first_line(exc)}"
            ) from exc

    def _status(self, connection: Connection) -> Status:
        recorded = _recorded_heads(connection)
        known = [rev for rev in recorded if rev in self.branches]
        applied: set[str] = set()
        for head in known:
            applied.update(rev.revision for rev in self.script.iterate_revisions(head, "base"))
        todo = [
            self.step(rev.revision)
            for rev in reversed(list(self.script.walk_revisions("base", "heads")))
            if rev.revision not in applied
        ]
        todo.sort(key=lambda step: step.branch != KERNEL_BRANCH)  # the order upgrade uses
        heads = self.script.get_heads()
        branches = [
            BranchStatus(
                branch=name,
                current=[rev for rev in known if self.branches[rev] == name],
                heads=[rev for rev in heads if self.branches[rev] == name],
                pending=[step for step in todo if step.branch == name],
            )
            for name in self._branch_names()
        ]
        return Status(branches, [rev for rev in recorded if rev not in self.branches])

    def _branch_names(self) -> list[str]:
        names = dict.fromkeys(self.branches[base] for base in self.script.get_bases())
        return sorted(names, key=lambda name: (name != KERNEL_BRANCH, name))

    def step(self, revision: str) -> Step:
        """Describe one revision of the loaded scripts."""
        script = self.script.get_revision(revision)
        return Step(revision=revision, branch=self.branches[revision], description=script.doc or "")

    def _branch_of_each_revision(self) -> dict[str, str]:
        """Each revision's branch: the first branch label of the root it descends from."""
        branches: dict[str, str] = {}
        for script in self.script.walk_revisions():
            root = script
            while root.down_revision is not None:
                down = root.down_revision
                root = self.script.get_revision(down if isinstance(down, str) else down[0])
            labels = getattr(root.module, "branch_labels", None) or ()
            labels = (labels,) if isinstance(labels, str) else tuple(labels)
            branches[script.revision] = labels[0] if labels else root.revision
        return branches

    # -- changing ----------------------------------------------------------------------

    async def upgrade(
        self, target: str = "heads", on_step: Callable[[Step], None] | None = None
    ) -> list[Step]:
        """Apply revisions up to ``target`` in one transaction; return those applied.

        ``on_step`` is called after each revision has run (inside the transaction).
        Raises MigrationError, after rolling everything back, when any revision fails.
        """
        return await self._run("upgrade", target, on_step)

    async def downgrade(
        self, target: str, on_step: Callable[[Step], None] | None = None
    ) -> list[Step]:
        """Revert revisions down to ``target`` (``base``, a revision, ``<branch>@base``)."""
        return await self._run("downgrade", target, on_step)

    async def _run(
        self, direction: str, target: str, on_step: Callable[[Step], None] | None
    ) -> list[Step]:
        done: list[Step] = []

        def record(*, step: Any, **_: Any) -> None:
            described = self.step(step.up_revision_id)
            done.append(described)
            if on_step is not None:
                on_step(described)

        try:
            async with self._lock(), self._connection() as connection, connection.begin():
                if not self.database.is_sqlite:
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID}
                    )
                await connection.run_sync(self._apply, direction, target, record)
        except MigrationError:
            raise
        except Exception as exc:  # a revision may raise anything; all of it was rolled back
            raise self._failure(direction, exc) from exc
        return done

    def _apply(
        self, connection: Connection, direction: str, target: str, record: Callable[..., None]
    ) -> None:
        parked = _park_unknown(connection, self.branches)
        self.config.attributes["connection"] = connection
        self.config.attributes["on_version_apply"] = record
        try:
            if (
                direction == "upgrade"
                and target == "heads"
                and KERNEL_BRANCH in self.branches.values()
            ):
                # the kernel's tables first, so plugins may refer to them
                command.upgrade(self.config, f"{KERNEL_BRANCH}@head")
            getattr(command, direction)(self.config, target)
        finally:
            self.config.attributes.pop("connection", None)
        _restore(connection, parked)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise MigrationError(
                    f"{direction} would leave rows that break foreign keys (first: {broken[0]}); "
                    "the database was left as it was"
                )

    def _failure(self, direction: str, exc: BaseException) -> MigrationError:
        failed = self._failing_step(exc)
        where = f" in {failed.branch} {failed.revision} ({failed.description})" if failed else ""
        return MigrationError(
            f"{direction} failed{where}: {type(exc).__name__}: {_first_line(exc)}; "
            "the database was left as it was",
            step=failed,
        )

    def _failing_step(self, exc: BaseException) -> Step | None:
        """The revision whose file raised, found from the innermost frame of the traceback."""
        by_path = {
            str(Path(script.path).resolve()): script.revision
            for script in self.script.walk_revisions()
            if isinstance(script, Script)
        }
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            revision = by_path.get(str(Path(frame.filename).resolve()))
            if revision is not None:
                return self.step(revision)
        return None

    # -- connection and lock -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if not self.database.is_sqlite:
            async with self.database.engine.connect() as connection:
                yield connection
            return
        if self.database.sqlite_path is None:
            raise MigrationError("an in-memory SQLite database cannot be migrated; use a file")
        # pysqlite keeps DDL out of transactions unless told otherwise: take transaction
        # control (BEGIN IMMEDIATE) on an engine of its own, without foreign-key
        # enforcement, which Alembic's copy-and-move table rebuilds on SQLite need off
        engine = create_async_engine(
            self.database.url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S}
        )
        event.listen(engine.sync_engine, "connect", _manual_transactions)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        try:
            async with engine.connect() as connection:
                yield connection
        finally:
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def _lock(self) -> AsyncIterator[None]:
        """A file lock beside the SQLite file (PostgreSQL locks inside the transaction)."""
        path = self.database.sqlite_path
        if path is None:
            yield
            return
        with Path(f"{path}.migrate.lock").open("a") as handle:
            await _acquire(handle)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


async def _acquire(handle: Any) -> None:
    """Take an exclusive flock, polling so that the event loop stays free."""
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not waiting:
                log.info("another process is migrating this database; waiting for it")
                waiting = True
            await asyncio.sleep(LOCK_POLL_S)


def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _recorded_heads(connection: Connection) -> list[str]:
    return list(MigrationContext.configure(connection).get_current_heads())


def _park_unknown(connection: Connection, known: dict[str, str]) -> list[str]:
    """Take revisions no loaded script provides out of the version table, for this run.

    Alembic refuses to run while the table names a revision it cannot find; they go
    back in by :func:`_restore` in the same transaction, so nobody sees them missing.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return []
    recorded = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    unknown = [revision for revision in recorded if revision not in known]
    if unknown:
        log.warning(
            "the database has revisions no loaded plugin provides: %s (left as they are)",
            ", ".join(unknown),
        )
        connection.execute(
            text(f"DELETE FROM {VERSION_TABLE} WHERE version_num = :revision"),
            [{"revision": revision} for revision in unknown],
        )
    return unknown


def _restore(connection: Connection, parked: list[str]) -> None:
    if parked:
        connection.execute(
            text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:revision)"),
            [{"revision": revision} for revision in parked],
        )


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    message = str(cause).strip()
    return message.splitlines()[0] if message else type(cause).__name__
