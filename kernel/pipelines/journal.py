"""Write-behind run records: what runs did, written in batches off their critical path.

Every run — the general runner's, and the calls a plugin records as runs of a one-step
pipeline (an API gateway's calls) — is recorded through one journal per process:

- :meth:`RunJournal.start_run` queues the run row (and, once per process, the pipeline
  version it uses), :meth:`add_steps` finished step rows, :meth:`end_run` the run's
  final values (with its last step rows);
- every ``interval`` seconds (sooner once ``batch`` runs are waiting) one transaction
  writes everything queued: the runs as one upsert (a run that ended before its row
  was written is inserted once, already final; one written while it ran is updated),
  the steps as one insert — a few statements for the whole batch, whatever its size
  (multi-row statements on SQLite, executemany on PostgreSQL; see ``_write_sqlite``);
- readers in this process call :meth:`flush` first, so they always see their own
  writes; other processes see a run at most ``interval`` seconds late;
- if the database is unreachable, records wait in memory (up to ``backlog`` runs) and
  are written once it is back; rows carry their runner's id, so a crash leaves nothing
  "running" forever (the reaper ends them).

Large values are moved to ``kernel_run_blob`` when written (``cap_value``), so a run
pays for serialising its values only in the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from pydantic_core import to_json
from sqlalchemy import JSON, Dialect, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from notewell.kernel.db import Database, UTCDateTime, utcnow
from notewell.kernel.ids import new_id
from notewell.kernel.pipelines.records import (
    VALUE_CAP_BYTES,
    PipelineVersion,
    Run,
    RunBlob,
    StepRun,
    cap_value,
)

log = logging.getLogger("notewell.pipelines")

RUN = cast(Table, Run.__table__)
STEP_RUN = cast(Table, StepRun.__table__)
BLOB = cast(Table, RunBlob.__table__)
VERSION = cast(Table, PipelineVersion.__table__)

RUN_COLUMNS = tuple(column.name for column in RUN.columns)
RUN_KEYS = frozenset(RUN_COLUMNS)
FINAL_COLUMNS = ("status", "outputs", "error", "traceback", "finished_at", "duration_ms")
"""What a run's row gains when it ends (all that an upsert of a written row changes)."""
VALUE_COLUMNS = ("inputs", "outputs")

MAX_BOUND_VALUES = 30_000
"""Bound values per statement (SQLite allows 32,766; PostgreSQL 65,535)."""


class RunJournal:
    """Queues run records and writes them in batches (see the module docstring)."""

    def __init__(
        self, db: Database, *, interval: float = 0.2, batch: int = 500, backlog: int = 100_000
    ) -> None:
        self.db = db
        self.interval = interval
        self.batch = batch
        self.backlog = backlog
        self._live: dict[str, dict[str, Any]] = {}  # whole rows of runs not ended yet
        self._runs: dict[str, dict[str, Any]] = {}  # rows to write, by run id
        self._steps: list[dict[str, Any]] = []
        self._versions: dict[str, dict[str, Any]] = {}
        self._stored_versions: set[str] = set()
        self._lock = asyncio.Lock()
        self._queued = asyncio.Event()  # something to write
        self._full = asyncio.Event()  # a whole batch to write: no need to wait
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Write queued records every ``interval`` from now on (on the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop the timer (a batch being written is finished), then write what is queued."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    @property
    def pending(self) -> int:
        """Runs with something not written yet."""
        return len(self._runs)

    # -- recording ---------------------------------------------------------------------

    def start_run(self, row: dict[str, Any], spec: dict[str, Any]) -> None:
        """Queue a new run's row (``kernel_run`` columns; those left out are null) and
        its pipeline version."""
        if row["content_hash"] not in self._stored_versions:
            self._versions.setdefault(
                row["content_hash"],
                {
                    "content_hash": row["content_hash"],
                    "name": row["pipeline"],
                    "version": row["version"],
                    "spec": spec,
                    "created_at": row["created_at"],
                },
            )
        if row.keys() == RUN_KEYS:  # a whole row already (a recorded call's): copy it
            whole = dict(row)
        else:
            whole = {column: row.get(column) for column in RUN_COLUMNS}
        self._live[row["id"]] = whole
        self._runs[row["id"]] = whole
        self._kick()

    def add_steps(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue finished steps' rows (whole ``kernel_step_run`` rows)."""
        self._steps.extend(rows)
        self._kick()

    def end_run(
        self, run_id: str, values: dict[str, Any], steps: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Queue a run's final values (of ``FINAL_COLUMNS``), with its last step rows."""
        row = self._live.pop(run_id, None)
        if row is None:
            raise KeyError(f"run {run_id} was not started through this journal")
        row.update((column, values[column]) for column in FINAL_COLUMNS if column in values)
        self._runs[run_id] = row
        self._steps.extend(steps)
        self._kick()

    # -- writing -----------------------------------------------------------------------

    def _kick(self) -> None:
        self._queued.set()
        if self.pending >= self.batch:
            self._full.set()

    async def _loop(self) -> None:
        while True:
            await self._queued.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.interval)
            self._queued.clear()
            self._full.clear()
            # shielded: cancelling the timer never abandons a transaction half-way
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Write everything queued so far in one transaction (kept for later if that fails).

        Batches are written one after another, in order.
        """
        async with self._lock:
            if not (self._runs or self._steps or self._versions):
                return
            # a run still going is copied: if it ends while this batch is written, its
            # row is queued again whole (an ended run's row no longer changes)
            live = self._live
            runs = [dict(row) if row["id"] in live else row for row in self._runs.values()]
            self._runs = {}
            steps, self._steps = self._steps, []
            versions, self._versions = list(self._versions.values()), {}
            try:
                await self._write(runs, steps, versions)
            except SQLAlchemyError:
                log.warning(
                    "could not write %d run record(s) yet; keeping them", len(runs), exc_info=True
                )
                self._requeue(runs, steps, versions)
                return
            self._stored_versions.update(v["content_hash"] for v in versions)
            if len(self._stored_versions) > 10_000:  # only saves a statement; forget freely
                self._stored_versions.clear()

    async def _write(
        self,
        runs: list[dict[str, Any]],
        steps: list[dict[str, Any]],
        versions: list[dict[str, Any]],
    ) -> None:
        blobs: list[dict[str, Any]] = []
        async with self.db.session() as session:
            connection = await session.connection()
            if self.db.is_sqlite:
                write = functools.partial(_write_sqlite, connection, encoded=_Encoded())
                await write(VERSION, versions, conflict=("content_hash", ()))
                await write(RUN, runs, blobs, conflict=("id", FINAL_COLUMNS))
                await write(STEP_RUN, steps, blobs)
                await write(BLOB, blobs)
                return
            runs = [_capped(row, row["id"], blobs) for row in runs]
            steps = [_capped(row, row["run_id"], blobs) for row in steps]
            await _write_postgresql(connection, VERSION, versions, ("content_hash", ()))
            await _write_postgresql(connection, RUN, runs, ("id", FINAL_COLUMNS))
            await _write_postgresql(connection, BLOB, blobs)
            await _write_postgresql(connection, STEP_RUN, steps)

    def _requeue(
        self,
        runs: list[dict[str, Any]],
        steps: list[dict[str, Any]],
        versions: list[dict[str, Any]],
    ) -> None:
        if len(runs) + self.pending > self.backlog:
            log.error("dropping %d run record(s): the database is still unreachable", len(runs))
            return
        # a run queued again since holds its newer state
        self._runs = {**{row["id"]: row for row in runs}, **self._runs}
        self._steps[:0] = steps
        for version in versions:
            self._versions.setdefault(version["content_hash"], version)


Conflict = tuple[str, Sequence[str]]
"""On a duplicate key (column): the columns to update, or none to keep the row."""


async def _write_postgresql(
    connection: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: Conflict | None = None,
) -> None:
    """One executemany (asyncpg pipelines it; no thread in between)."""
    if not rows:
        return
    statement = postgresql.insert(table)
    if conflict is not None:
        key, columns = conflict
        if columns:
            changed = {column: statement.excluded[column] for column in columns}
            statement = statement.on_conflict_do_update(index_elements=[key], set_=changed)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[key])
    await connection.execute(statement, rows)


async def _write_sqlite(
    connection: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    blobs: list[dict[str, Any]] | None = None,
    conflict: Conflict | None = None,
    encoded: _Encoded | None = None,
) -> None:
    """Multi-row statements built here, each value converted once (once per ``encoded``,
    which a flush shares between its tables: a run's times recur in its step row, and
    one actor's description in all its runs).

    An executemany would step SQLite once per row on the driver's thread, taking the GIL
    back from a busy event loop each time (up to the 5 ms switch interval per row); and
    SQLAlchemy's multi-row ``values()`` builds a bound parameter per value. One
    statement per chunk costs neither. JSON values are serialised once, here (large
    inputs and outputs become blob rows, appended to ``blobs``); other values go
    through their column type's own bind processor.
    """
    if not rows:
        return
    encoded = encoded or _Encoded()
    columns = _converters(table, connection.dialect)
    run_key = "id" if table is RUN else "run_id"
    names = ", ".join(name for name, _, _ in columns)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    tail = ""
    if conflict is not None:
        key, changed = conflict
        updates = ", ".join(f"{column} = excluded.{column}" for column in changed)
        tail = f" ON CONFLICT ({key}) " + (f"DO UPDATE SET {updates}" if changed else "DO NOTHING")
    for chunk in _chunks(rows):
        values: list[Any] = []
        for row in chunk:
            for name, kind, process in columns:
                value = row.get(name)
                if value is None:
                    values.append(None)
                elif kind == "value" and blobs is not None:
                    values.append(encoded.value(value, row[run_key], blobs))
                elif kind == "time" and value.tzinfo is UTC:
                    values.append(encoded.time(value))
                elif kind == "json":
                    values.append(encoded.json(value))
                else:
                    values.append(process(value) if process is not None else value)
        sql = f"INSERT INTO {table.name} ({names}) VALUES {', '.join([one] * len(chunk))}{tail}"
        await connection.exec_driver_sql(sql, tuple(values))


class _Encoded:
    """Values as one flush writes them to SQLite, each encoded once: JSON columns by the
    identity of the object (every row, and so every value, lives until the flush ends;
    the recorder gives all calls of one actor the same description, and a call's run and
    step rows the same outputs), times by value."""

    __slots__ = ("_json", "_times", "_values")

    def __init__(self) -> None:
        self._json: dict[int, str] = {}
        self._times: dict[datetime, str] = {}
        self._values: dict[tuple[int, str], str] = {}

    def value(self, value: Any, run_id: str, blobs: list[dict[str, Any]]) -> str:
        """An inputs or outputs value as :func:`_json_or_blob` writes it: once for an
        object that several rows of one run hold (one blob row, if it is large)."""
        key = (id(value), run_id)
        text = self._values.get(key)
        if text is None:
            text = self._values[key] = _json_or_blob(value, run_id, blobs)
        return text

    def json(self, value: Any) -> str:
        text = self._json.get(id(value))
        if text is None:
            text = self._json[id(value)] = _json(value)
        return text

    def time(self, value: datetime) -> str:
        """SQLAlchemy's SQLite format of a UTC time, without its two calls."""
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = value.isoformat(" ", "microseconds")[:-6]
        return text


_CONVERTERS: dict[tuple[str, str], list[tuple[str, str, Any]]] = {}


def _converters(table: Table, dialect: Dialect) -> list[tuple[str, str, Any]]:
    """Each column's name, kind (``value``: inputs/outputs, ``json``, ``time``, ``plain``)
    and its type's bind processor for ``dialect`` (or ``None``)."""
    key = (table.name, dialect.name)
    if key not in _CONVERTERS:
        _CONVERTERS[key] = [
            (
                column.name,
                "value"
                if column.name in VALUE_COLUMNS
                else "json"
                if isinstance(column.type, JSON)
                else "time"
                if isinstance(column.type, UTCDateTime)
                else "plain",
                column.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for column in table.columns
        ]
    return _CONVERTERS[key]


def _json_or_blob(value: Any, run_id: str, blobs: list[dict[str, Any]]) -> str:
    """``value``'s JSON, or that of a reference to a new blob row when it is large."""
    text = _json(value)
    if len(text) <= VALUE_CAP_BYTES // 4 or len(text.encode()) <= VALUE_CAP_BYTES:
        return text
    blob_id = new_id()
    size = len(text.encode())
    blobs.append(
        {"id": blob_id, "run_id": run_id, "data": text, "size": size, "created_at": utcnow()}
    )
    return _json({"$blob": blob_id, "bytes": size})


def _json(value: Any) -> str:
    """Compact JSON from pydantic-core's encoder (a quarter of ``json.dumps``'s time; the
    run records' values are most of a flush's work); what JSON cannot hold becomes its
    ``str``."""
    return to_json(value, fallback=str).decode()


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    size = max(1, MAX_BOUND_VALUES // len(rows[0]))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _capped(row: dict[str, Any], run_id: str, blobs: list[dict[str, Any]]) -> dict[str, Any]:
    """``row`` with its large values moved to blob rows (appended to ``blobs``)."""
    capped = dict(row)
    for column in VALUE_COLUMNS:
        if column in capped:
            capped[column] = cap_value(capped[column], run_id, blobs)
    return capped
