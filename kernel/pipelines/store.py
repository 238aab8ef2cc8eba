"""Reading and writing run records, with as few statements as a run allows.

A run costs: one transaction at the start (the pipeline version when this process has
not stored it yet, then the run row), batched inserts of finished steps while it runs
(at most one per ``flush_interval``), and one transaction at the end (the last step
rows and the run's final update). Chunks never touch the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.db import Database, utcnow
from notewell.kernel.pipelines.records import (
    ACTIVE,
    PipelineVersion,
    Run,
    RunBlob,
    Runner,
    RunRead,
    RunSummary,
    StepRun,
    StepRunRead,
    blob_id_of,
    cap_value,
)

MAX_PAGE = 200

# writes on the hot path go through the tables (Core), skipping the ORM's bulk machinery
RUN = cast(Table, Run.__table__)
STEP_RUN = cast(Table, StepRun.__table__)
BLOB = cast(Table, RunBlob.__table__)


class RunStore:
    """The persistence of runs; knows SQL, not pipelines."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._stored_versions: set[str] = set()

    # -- writes while running ---------------------------------------------------------

    async def create(self, row: dict[str, Any], spec: dict[str, Any]) -> None:
        """Insert the run (and the pipeline version it uses, once per process)."""
        blobs: list[dict[str, Any]] = []
        row = {**row, "inputs": cap_value(row["inputs"], row["id"], blobs)}
        async with self.db.session() as session:
            if row["content_hash"] not in self._stored_versions:
                await session.execute(self._insert_version(row, spec))
            await session.execute(insert(RUN), [row])
            if blobs:
                await session.execute(insert(BLOB), blobs)
        if len(self._stored_versions) > 10_000:  # only saves a statement; forget freely
            self._stored_versions.clear()
        self._stored_versions.add(row["content_hash"])

    def _insert_version(self, row: dict[str, Any], spec: dict[str, Any]) -> Any:
        values = {
            "content_hash": row["content_hash"],
            "name": row["pipeline"],
            "version": row["version"],
            "spec": spec,
            "created_at": utcnow(),
        }
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        statement = dialect.insert(PipelineVersion).values(**values)
        return statement.on_conflict_do_nothing(index_elements=["content_hash"])

    async def add_steps(self, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert finished steps in one statement (plus one for any large values)."""
        if rows:
            async with self.db.session() as session:
                await self._insert_steps(session, run_id, rows)

    async def _insert_steps(
        self, session: AsyncSession, run_id: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        if not rows:
            return
        blobs: list[dict[str, Any]] = []
        capped = [
            {
                **row,
                "inputs": cap_value(row.get("inputs"), run_id, blobs),
                "outputs": cap_value(row.get("outputs"), run_id, blobs),
            }
            for row in rows
        ]
        if blobs:
            await session.execute(insert(BLOB), blobs)
        await session.execute(insert(STEP_RUN), capped)

    async def finish(
        self, run_id: str, values: dict[str, Any], rows: Sequence[dict[str, Any]] = ()
    ) -> None:
        """The last step rows and the run's final state, in one transaction."""
        blobs: list[dict[str, Any]] = []
        values = {**values, "outputs": cap_value(values.get("outputs"), run_id, blobs)}
        async with self.db.session() as session:
            await self._insert_steps(session, run_id, rows)
            if blobs:
                await session.execute(insert(BLOB), blobs)
            await session.execute(update(RUN).where(RUN.c.id == run_id).values(**values))

    # -- reads ------------------------------------------------------------------------

    async def get(self, run_id: str, *, steps: bool = True) -> RunRead | None:
        """The run with its step rows (in the order they finished), or ``None``."""
        async with self.db.session() as session:
            run = await session.get(Run, run_id)
            if run is None:
                return None
            read = RunRead.model_validate(run)
            if steps:
                rows = await session.scalars(
                    select(StepRun)
                    .where(StepRun.run_id == run_id)
                    .order_by(StepRun.finished_at, StepRun.step_id)
                )
                read.steps = [StepRunRead.model_validate(row) for row in rows]
        return read

    async def page(
        self,
        *,
        actor_id: str | None,
        status: str | None = None,
        pipeline: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[RunSummary], str | None]:
        """Runs newest first; ``cursor`` is the last id of the previous page.

        ``actor_id=None`` means every actor's runs (admins).
        """
        limit = max(1, min(limit, MAX_PAGE))
        query = select(*_summary_columns()).order_by(Run.id.desc()).limit(limit + 1)
        if actor_id is not None:
            query = query.where(Run.actor_id == actor_id)
        if status:
            query = query.where(Run.status == status)
        if pipeline:
            query = query.where(Run.pipeline == pipeline)
        if cursor:
            query = query.where(Run.id < cursor)
        async with self.db.session() as session:
            rows = (await session.execute(query)).mappings().all()
        runs = [RunSummary.model_validate(dict(row)) for row in rows[:limit]]
        return runs, (runs[-1].id if len(rows) > limit else None)

    async def blob(self, run_id: str, blob_id: str) -> Any:
        """A large value of ``run_id``, or raise KeyError."""
        async with self.db.session() as session:
            blob = await session.get(RunBlob, blob_id)
        if blob is None or blob.run_id != run_id:
            raise KeyError(blob_id)
        return json.loads(blob.data)

    async def spec(self, content_hash: str) -> dict[str, Any] | None:
        """The pipeline definition stored under ``content_hash``."""
        async with self.db.session() as session:
            version = await session.get(PipelineVersion, content_hash)
        return None if version is None else dict(version.spec)

    async def reusable_steps(self, run_id: str) -> dict[str, StepRunRead]:
        """The succeeded (or reused) steps of ``run_id``, large values resolved."""
        async with self.db.session() as session:
            rows = list(
                await session.scalars(
                    select(StepRun).where(
                        StepRun.run_id == run_id, StepRun.status.in_(("succeeded", "reused"))
                    )
                )
            )
            wanted = {blob_id_of(v) for r in rows for v in (r.inputs, r.outputs)} - {None}
            blobs = {}
            if wanted:
                found = await session.scalars(select(RunBlob).where(RunBlob.id.in_(wanted)))
                blobs = {blob.id: json.loads(blob.data) for blob in found}
        steps = {}
        for row in rows:
            read = StepRunRead.model_validate(row)
            read.inputs = blobs.get(blob_id_of(row.inputs) or "", row.inputs)
            read.outputs = blobs.get(blob_id_of(row.outputs) or "", row.outputs)
            steps[row.step_id] = read
        return steps

    # -- runners and the reaper ------------------------------------------------------

    async def register_runner(self, runner_id: str, host: str, pid: int) -> None:
        now = utcnow()
        async with self.db.session() as session:
            session.add(Runner(id=runner_id, host=host, pid=pid, started_at=now, heartbeat_at=now))

    async def heartbeat(self, runner_id: str) -> bool:
        """Say ``runner_id`` is alive; ``False`` if its row is gone (it was reaped)."""
        async with self.db.session() as session:
            result = await session.execute(
                update(Runner).where(Runner.id == runner_id).values(heartbeat_at=utcnow())
            )
        return bool(getattr(result, "rowcount", 0))

    async def unregister_runner(self, runner_id: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(Runner).where(Runner.id == runner_id))

    async def runners(self) -> list[Runner]:
        async with self.db.session() as session:
            return list(await session.scalars(select(Runner)))

    async def reap(
        self, live_owners: set[str], dead_runners: set[str], error: dict[str, Any]
    ) -> list[str]:
        """Mark active runs whose owner is not live as failed; forget dead runners.

        Returns the ids of the runs reaped.
        """
        now = utcnow()
        orphaned = Run.status.in_(ACTIVE) & or_(
            Run.owner.is_(None), Run.owner.not_in(live_owners or {""})
        )
        async with self.db.session() as session:
            ids = list(await session.scalars(select(Run.id).where(orphaned)))
            if ids:
                await session.execute(
                    update(Run)
                    .where(Run.id.in_(ids), Run.status.in_(ACTIVE))
                    .values(status="failed", error=error, finished_at=now)
                )
            if dead_runners:
                await session.execute(delete(Runner).where(Runner.id.in_(dead_runners)))
        return ids


def _summary_columns() -> list[Any]:
    return [getattr(Run, name) for name in RunSummary.model_fields]


def heartbeat_age(runner: Runner, now: datetime) -> float:
    """Seconds since ``runner`` last said it was alive."""
    return (now - runner.heartbeat_at).total_seconds()
