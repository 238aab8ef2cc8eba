"""Calls recorded as runs, without the runner: for a plugin's hot path.

Some work is one step that a plugin performs itself, in its own request handler — a
proxied completion of an API gateway, say — where the general runner's
per-run work (planning, events on every transition, rendering and validating each
step's values) would cost more than the call. Such a call is still a run: it is
recorded as a run of a one-step pipeline, through the same journal as every run, so the
run viewer, metering (``on_run_finished``) and the reaper see it::

    pipeline = CallPipeline.of(await kernel.pipelines.find("gateway-chat"))
    call = kernel.pipelines.calls.begin(pipeline, {"request": body}, actor)
    ...
    kernel.pipelines.calls.end(call, status="succeeded", outputs={...})

Recording costs two dict writes in memory; the rows are written with the next batch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.ids import new_id
from notewell.kernel.pipelines.records import RunRead

if TYPE_CHECKING:
    from notewell.kernel.pipelines.loader import LoadedPipeline
    from notewell.kernel.pipelines.service import PipelineService


@dataclass(frozen=True)
class CallPipeline:
    """What a record needs of the one-step pipeline a call runs as."""

    name: str
    version: str
    content_hash: str
    spec: dict[str, Any]
    step_id: str
    uses: str

    @classmethod
    def of(cls, loaded: LoadedPipeline) -> CallPipeline:
        step = loaded.spec.steps[0]
        return cls(
            name=loaded.spec.name,
            version=loaded.spec.version,
            content_hash=loaded.content_hash,
            spec=loaded.spec.model_dump(mode="json", by_alias=True, exclude_unset=True),
            step_id=step.id,
            uses=step.uses,
        )


@dataclass
class Call:
    """A call being recorded; ``id`` is its run's id."""

    id: str
    pipeline: CallPipeline
    actor: Actor
    started: float
    started_at: datetime
    row: dict[str, Any]
    ended: bool = False
    """Whether :meth:`CallRecorder.end` has recorded how it ended (the first end wins)."""


MAX_ACTORS = 10_000
"""Actors' public descriptions the recorder keeps (see ``CallRecorder._public``)."""


class CallRecorder:
    """Records calls as runs of one-step pipelines (see the module docstring)."""

    def __init__(self, service: PipelineService) -> None:
        self.service = service
        self._notifying: set[asyncio.Task[None]] = set()
        self._actors: dict[tuple[Any, ...], dict[str, Any]] = {}

    def begin(self, pipeline: CallPipeline, inputs: Any, actor: Actor) -> Call:
        """Record a call that starts now (status ``running``)."""
        run_id = new_id()
        now = utcnow()
        row = {
            "id": run_id,
            "pipeline": pipeline.name,
            "version": pipeline.version,
            "content_hash": pipeline.content_hash,
            "status": "running",
            "inputs": inputs,
            "outputs": None,
            "error": None,
            "traceback": None,
            "actor_id": actor.id,
            "actor": self._public(actor),
            "resumed_from": None,
            "owner": self.service.reaper.runner_id,
            "created_at": now,
            "started_at": now,
            "finished_at": None,
            "duration_ms": None,
        }
        self.service.store.create(row, pipeline.spec)
        return Call(run_id, pipeline, actor, time.perf_counter(), now, row)

    def _public(self, actor: Actor) -> dict[str, Any]:
        """``actor.to_public()``, one dict per actor: the journal encodes each object once
        per batch, and an API key's calls all have the same actor."""
        key = (actor.id, actor.kind, actor.name, actor.roles)
        public = self._actors.get(key)
        if public is None:
            if len(self._actors) >= MAX_ACTORS:
                self._actors.clear()
            public = self._actors[key] = actor.to_public()
        return public

    def end(
        self,
        call: Call,
        *,
        status: str,
        outputs: Any = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Record how a call ended, with its one step row; calls ``on_run_finished``.

        Only the first end of a call counts: a later one (a clean-up path that cannot
        know whether the call's own code ended it) changes nothing."""
        if call.ended:
            return
        call.ended = True
        duration = round((time.perf_counter() - call.started) * 1000, 3)
        finished = utcnow()
        values = {
            "status": status,
            "outputs": outputs,
            "error": error,
            "finished_at": finished,
            "duration_ms": duration,
        }
        step = {
            "run_id": call.id,
            "step_id": call.pipeline.step_id,
            "uses": call.pipeline.uses,
            "executor": "inline",
            "status": status,
            "attempts": 1,
            "started_at": call.started_at,
            "finished_at": finished,
            "duration_ms": duration,
            "inputs": None,  # the run's inputs: not stored twice
            "outputs": outputs,
            "error": error,
            "traceback": None,
            "logs": "",
        }
        self.service.store.finish(call.id, values, [step])
        if self.service.has_hook("on_run_finished"):
            final = {k: v for k, v in call.row.items() if k != "owner"}
            run = RunRead.model_validate({**final, **values})
            task = asyncio.get_running_loop().create_task(
                self.service.notify("on_run_finished", run=run)
            )
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)
