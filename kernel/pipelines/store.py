"""Reading and writing run records.

Writes go through the :class:`~notewell.kernel.pipelines.journal.RunJournal`: queued in
memory and written in batches, one transaction for many runs. Reads here flush it first,
so this process always reads its own writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from notewell.kernel.db import Database, utcnow
from notewell.kernel.pipelines.journal import RunJournal
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
)

MAX_PAGE = 200


class RunStore:
    """The persistence of runs; knows SQL, not pipelines."""

    def __init__(self, db: Database, journal: RunJournal | None = None) -> None:
        self.db = db
        self.journal = journal or RunJournal(db)

    # -- writes (queued; see journal.py) ----------------------------------------------

    def create(self, row: dict[str, Any], spec: dict[str, Any]) -> None:
        """Record a run that starts (a whole ``kernel_run`` row) and its pipeline version."""
        self.journal.start_run(row, spec)

    def add_steps(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record finished steps."""
        self.journal.add_steps(rows)

    def finish(
        self, run_id: str, values: dict[str, Any], rows: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Record a run's final values with its last step rows."""
        self.journal.end_run(run_id, values, rows)

    async def flush(self) -> None:
        """Write what is queued now (reads do this first)."""
        await self.journal.flush()

    # -- reads ------------------------------------------------------------------------

    async def get(self, run_id: str, *, steps: bool = True) -> RunRead | None:
        """The run with its step rows (in the order they finished), or ``None``."""
        await self.flush()
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
        await self.flush()
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
        await self.flush()
        async with self.db.session() as session:
            blob = await session.get(RunBlob, blob_id)
        if blob is None or blob.run_id != run_id:
            raise KeyError(blob_id)
        return json.loads(blob.data)

    async def spec(self, content_hash: str) -> dict[str, Any] | None:
        """The pipeline definition stored under ``content_hash``."""
        await self.flush()
        async with self.db.session() as session:
            version = await session.get(PipelineVersion, content_hash)
        return None if version is None else dict(version.spec)

    async def reusable_steps(self, run_id: str) -> dict[str, StepRunRead]:
        """The succeeded (or reused) steps of ``run_id``, large values resolved."""
        await self.flush()
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
