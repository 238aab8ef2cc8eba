"""Run records for API calls, written in batches off the request path.

An API completion is a run of a one-step pipeline (``pipelines/openai-chat.yaml``,
``openai-embeddings.yaml``) recorded in the kernel's run tables like any other, so the
run viewer, metering (``on_run_finished``) and the reaper see it. Going through the
general runner would cost two database transactions and a dozen events per call —
more CPU than the whole budget of a proxied completion (docs/performance.md,
"Gateway") — so calls are recorded here instead, the way the runner would record them:

- a run row is queued when the call starts, its final values when it ends; every
  ``record_flush_s`` one transaction inserts the queued rows (a call that ended before
  its row was written is inserted once, already final), updates the others and inserts
  their step rows: one statement of each kind for the whole batch;
- rows carry this process's runner id (``owner``), so a crash leaves no run "running":
  the kernel's reaper ends them;
- if the database is unreachable, records wait in memory (up to ``record_backlog``)
  and are written once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database, utcnow
from notewell.kernel.ids import new_id
from notewell.kernel.pipelines import RunRead
from notewell.kernel.pipelines.records import (
    VALUE_CAP_BYTES,
    PipelineVersion,
    Run,
    RunBlob,
    StepRun,
    cap_value,
)

log = logging.getLogger("notewell.openai_api")

RUNS = Run.__table__
STEPS = StepRun.__table__
BLOBS = RunBlob.__table__
_FINAL_UPDATE = update(RUNS).where(RUNS.c.id == bindparam("run_id"))


@dataclass(frozen=True)
class Pipeline:
    """What a record needs of the pipeline a call runs as."""

    name: str
    version: str
    content_hash: str
    spec: dict[str, Any]
    step_id: str
    uses: str


@dataclass
class Ticket:
    """A call being recorded."""

    id: str
    pipeline: Pipeline
    actor: Actor
    started: float
    started_at: Any
    row: dict[str, Any]
    final: dict[str, Any] | None = None


def _capped(value: Any, size_hint: int, run_id: str, blobs: list[dict[str, Any]]) -> Any:
    """``cap_value`` only when the value might be large (it serialises to measure)."""
    if size_hint < VALUE_CAP_BYTES // 4:
        return value
    return cap_value(value, run_id, blobs)


class RunRecorder:
    """Queues run records and writes them in batches (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        kernel: Any,
        runner_id: str | None,
        *,
        interval: float,
        batch: int,
        backlog: int,
    ) -> None:
        self.db = db
        self.kernel = kernel
        self.runner_id = runner_id
        self.interval = interval
        self.batch = batch
        self.backlog = backlog
        self._new: dict[str, dict[str, Any]] = {}
        self._finals: dict[str, dict[str, Any]] = {}
        self._steps: list[dict[str, Any]] = []
        self._blobs: list[dict[str, Any]] = []
        self._versions: dict[str, dict[str, Any]] = {}
        self._stored_versions: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._notify = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        caller = getattr(self.kernel.plugins.pm.hook, "on_run_finished", None)
        self._notify = bool(caller and caller.get_hookimpls())
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    # -- recording ---------------------------------------------------------------------

    def begin(self, pipeline: Pipeline, inputs: Any, size_hint: int, actor: Actor) -> Ticket:
        """Queue the row of a call that starts now."""
        run_id = new_id()
        now = utcnow()
        row = {
            "id": run_id,
            "pipeline": pipeline.name,
            "version": pipeline.version,
            "content_hash": pipeline.content_hash,
            "status": "running",
            "inputs": _capped(inputs, size_hint, run_id, self._blobs),
            "outputs": None,
            "error": None,
            "traceback": None,
            "actor_id": actor.id,
            "actor": actor.to_public(),
            "resumed_from": None,
            "owner": self.runner_id,
            "created_at": now,
            "started_at": now,
            "finished_at": None,
            "duration_ms": None,
        }
        if pipeline.content_hash not in self._stored_versions:
            self._versions[pipeline.content_hash] = {
                "content_hash": pipeline.content_hash,
                "name": pipeline.name,
                "version": pipeline.version,
                "spec": pipeline.spec,
                "created_at": now,
            }
        self._new[run_id] = row
        ticket = Ticket(run_id, pipeline, actor, time.perf_counter(), now, row)
        self._kick()
        return ticket

    def end(
        self,
        ticket: Ticket,
        *,
        status: str,
        outputs: Any = None,
        size_hint: int = 0,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Queue the final values of a call (and its one step row)."""
        duration = round((time.perf_counter() - ticket.started) * 1000, 3)
        finished = utcnow()
        capped = _capped(outputs, size_hint, ticket.id, self._blobs)
        values = {
            "status": status,
            "outputs": capped,
            "error": error,
            "finished_at": finished,
            "duration_ms": duration,
        }
        queued = self._new.get(ticket.id)
        if queued is not None:
            queued.update(values)  # not written yet: one insert, already final
        else:
            self._finals[ticket.id] = {"run_id": ticket.id, **values}
        self._steps.append(
            {
                "run_id": ticket.id,
                "step_id": ticket.pipeline.step_id,
                "uses": ticket.pipeline.uses,
                "executor": "inline",
                "status": "succeeded" if status == "succeeded" else status,
                "attempts": 1,
                "started_at": ticket.started_at,
                "finished_at": finished,
                "duration_ms": duration,
                "inputs": None,  # the run's inputs: not stored twice
                "outputs": capped,
                "error": error,
                "traceback": None,
                "logs": "",
            }
        )
        ticket.final = {**ticket.row, **values}
        self._kick()
        if self._notify:
            asyncio.get_running_loop().create_task(self._finished(ticket.final))

    async def _finished(self, row: dict[str, Any]) -> None:
        run = RunRead.model_validate({k: v for k, v in row.items() if k != "owner"})
        await self.kernel.plugins.acall("on_run_finished", run=run)

    # -- writing -----------------------------------------------------------------------

    def _kick(self) -> None:
        if len(self._new) + len(self._finals) >= self.batch or not self._wake.is_set():
            self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued in one transaction (kept for later if that fails)."""
        # copies: a call that ends while this batch is written queues its final values
        # (and its step row) for the next batch, so a run is never seen ended without it
        new, self._new = [dict(row) for row in self._new.values()], {}
        finals, self._finals = list(self._finals.values()), {}
        steps, self._steps = self._steps, []
        blobs, self._blobs = self._blobs, []
        versions, self._versions = list(self._versions.values()), {}
        if not (new or finals or steps or versions):
            return
        try:
            async with self.db.session() as session:
                for version in versions:
                    await session.execute(self._insert_version(version))
                # Core statements, executemany: one round trip each for the whole batch
                if new:
                    await session.execute(insert(RUNS), new)
                if blobs:
                    await session.execute(insert(BLOBS), blobs)
                if finals:
                    await session.execute(_FINAL_UPDATE, finals)
                if steps:
                    await session.execute(insert(STEPS), steps)
        except SQLAlchemyError:
            log.warning(
                "could not write %d run record(s) yet", len(new) + len(finals), exc_info=True
            )
            self._requeue(new, finals, steps, blobs, versions)
            return
        self._stored_versions.update(v["content_hash"] for v in versions)

    def _requeue(
        self,
        new: list[dict[str, Any]],
        finals: list[dict[str, Any]],
        steps: list[dict[str, Any]],
        blobs: list[dict[str, Any]],
        versions: list[dict[str, Any]],
    ) -> None:
        if len(new) + len(self._new) > self.backlog:
            log.error("dropping %d run record(s): the database is still unreachable", len(new))
            return
        self._new = {**{row["id"]: row for row in new}, **self._new}
        for row in finals:
            self._finals.setdefault(row["run_id"], row)
        self._steps[:0] = steps
        self._blobs[:0] = blobs
        for version in versions:
            self._versions.setdefault(version["content_hash"], version)

    def _insert_version(self, values: dict[str, Any]) -> Any:
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        statement = dialect.insert(PipelineVersion).values(**values)
        return statement.on_conflict_do_nothing(index_elements=["content_hash"])
