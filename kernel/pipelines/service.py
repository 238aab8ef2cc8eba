"""The pipeline engine as the kernel holds it: ``kernel.pipelines``.

Start runs, wait for them, cancel and resume them, read their records, run a single
step (for steps like ``core.map``). Resuming makes a **new run** linked to the old one
(``resumed_from``) on the pipeline version the old run used: steps whose type and
rendered inputs equal those of a step that succeeded before take its outputs
(status ``reused``) and the rest run. Records stay immutable once final, and a run's
timings describe one execution.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.events import Event
from notewell.kernel.ids import new_id
from notewell.kernel.pipelines.calls import CallRecorder
from notewell.kernel.pipelines.catalog import CatalogEntry, PipelineCatalog, pipeline_dirs
from notewell.kernel.pipelines.catalog import PipelineNotFound as NotInCatalog
from notewell.kernel.pipelines.errors import (
    InvalidPipeline,
    PipelineNotFound,
    RunNotFound,
    RunStateConflict,
    StepError,
)
from notewell.kernel.pipelines.executors import (
    Executor,
    InlineExecutor,
    StepJob,
    executor_for,
    queue_for,
)
from notewell.kernel.pipelines.executors.worker import WorkerPool
from notewell.kernel.pipelines.inputs import resolve_inputs
from notewell.kernel.pipelines.issues import Issue
from notewell.kernel.pipelines.journal import RunJournal
from notewell.kernel.pipelines.loader import LoadedPipeline
from notewell.kernel.pipelines.plan import Plan, build_plan, remember, spec_hash, spec_json
from notewell.kernel.pipelines.reaper import Reaper
from notewell.kernel.pipelines.records import ACTIVE, RunRead, RunSummary, StepRunRead, blob_id_of
from notewell.kernel.pipelines.registry import StepRegistry, UnknownStep
from notewell.kernel.pipelines.runner import RunExecution
from notewell.kernel.pipelines.spec import PipelineSpec
from notewell.kernel.pipelines.step import StepContext
from notewell.kernel.pipelines.store import RunStore
from notewell.kernel.pipelines.validate import validate

if TYPE_CHECKING:
    from notewell.kernel.app import Kernel

log = logging.getLogger("notewell.pipelines")

CANCEL_TOPIC = "kernel.run_cancel"


class RunHandle:
    """A run started in this process."""

    def __init__(self, execution: RunExecution, task: asyncio.Task[RunRead]) -> None:
        self.execution = execution
        self.task = task

    @property
    def id(self) -> str:
        return self.execution.run.id

    async def wait(self) -> RunRead:
        """The final record (without steps) once the run has ended."""
        return await asyncio.shield(self.task)

    def cancel(self) -> None:
        self.execution.cancel()


class PipelineService:
    """Registry, executors, records and the runs in flight in this process."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.registry = StepRegistry(kernel.plugins)
        self.store = RunStore(
            kernel.db,
            RunJournal(
                kernel.db,
                interval=kernel.settings.run_records_flush_s,
                backlog=kernel.settings.run_records_backlog,
            ),
        )
        self.catalog = PipelineCatalog(
            pipeline_dirs(kernel.settings), auto_reload=kernel.settings.dev
        )
        self.executors: dict[str, Executor] = {
            "inline": InlineExecutor(),
            "worker": WorkerPool(kernel.settings.worker_pool_size),
        }
        self.heavy_executor = "worker"
        if kernel.settings.effective_broker_url:
            self._add_celery()
        self.reaper = Reaper(self.store)
        self.calls = CallRecorder(self)
        self.active: dict[str, RunHandle] = {}
        self._plans: dict[str, Plan] = {}
        self._issues: dict[tuple[str, frozenset[str]], list[Issue]] = {}
        self._unsubscribe: Any = None

    def _add_celery(self) -> None:
        """With a broker configured, heavy steps go to Celery (imported only then)."""
        from notewell.kernel.pipelines.executors.celery import CeleryExecutor

        self.executors["celery"] = CeleryExecutor.from_settings(self.kernel.settings)
        self.heavy_executor = "celery"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start executors, reap orphaned runs, listen for cancels from other replicas."""
        for executor in self.executors.values():
            await executor.start()
        self.store.journal.start()
        await self.reaper.start()
        self._unsubscribe = self.kernel.bus.subscribe(self._on_cancel, CANCEL_TOPIC)

    async def stop(self) -> None:
        """End the runs in flight (``interrupted``, resumable) and stop the executors."""
        for handle in list(self.active.values()):
            handle.execution.cancel(
                "interrupted", "the server stopped during the run; resume it to go on"
            )
        await asyncio.gather(*(h.task for h in self.active.values()), return_exceptions=True)
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.store.journal.stop()
        await self.reaper.stop()
        for executor in self.executors.values():
            await executor.stop()

    def executor(self, name: str) -> Executor:
        """The executor called ``name``; ``celery`` without Celery means the worker pool."""
        if name not in self.executors:
            name = "worker"
        return self.executors[name]

    def has_hook(self, hook: str) -> bool:
        return self.kernel.plugins.has_hook(hook)

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a run hook; a plugin failing in it is logged and does not stop the run."""
        try:
            await self.kernel.plugins.acall(hook, **kwargs)
        except Exception:  # an observer's failure is not the run's
            log.error("a plugin failed in %s", hook, exc_info=True)

    # -- starting runs -----------------------------------------------------------------

    async def start_run(
        self,
        pipeline: PipelineSpec | LoadedPipeline,
        inputs: Mapping[str, Any] | None = None,
        *,
        actor: Actor,
        resumed_from: str | None = None,
        prior: Mapping[str, StepRunRead] | None = None,
    ) -> RunHandle:
        """Check and record a new run, start it in the background, return its handle.

        Raises ``InvalidPipeline`` or ``InvalidInputs`` (422) before anything is written.
        """
        spec, content_hash, plan = self._plan(pipeline)
        resolved = resolve_inputs(spec, inputs)
        now = utcnow()
        row = {
            "id": new_id(),
            "pipeline": spec.name,
            "version": spec.version,
            "content_hash": content_hash,
            "status": "running",
            "inputs": resolved,
            "actor_id": actor.id,
            "actor": actor.to_public(),
            "resumed_from": resumed_from,
            "owner": self.reaper.runner_id,
            "created_at": now,
            "started_at": now,
        }
        self.store.create(row, spec_json(spec))
        run = RunRead.model_validate({**{k: v for k, v in row.items() if k != "owner"}})
        execution = RunExecution(self, run, plan, actor, prior)
        handle = RunHandle(execution, asyncio.create_task(execution.execute()))
        self.active[run.id] = handle
        handle.task.add_done_callback(lambda _: self.active.pop(run.id, None))
        return handle

    async def run(
        self,
        pipeline: PipelineSpec | LoadedPipeline,
        inputs: Mapping[str, Any] | None = None,
        *,
        actor: Actor,
    ) -> RunRead:
        """Start a run and wait for its end: the final record with its steps, from memory
        (whole values; the stored record keeps large ones by reference)."""
        handle = await self.start_run(pipeline, inputs, actor=actor)
        await handle.wait()
        return handle.execution.read().for_viewer(actor.is_admin)

    def _plan(self, pipeline: PipelineSpec | LoadedPipeline) -> tuple[PipelineSpec, str, Plan]:
        if isinstance(pipeline, LoadedPipeline):
            spec, content_hash = pipeline.spec, pipeline.content_hash
        else:
            spec, content_hash = pipeline, spec_hash(pipeline)
        plan = self._plans.get(content_hash)
        if plan is None or not self._still_valid(plan):
            if isinstance(pipeline, LoadedPipeline):
                self._validate(pipeline)
            plan = build_plan(spec, self.registry)
            remember(self._plans, content_hash, plan)
        return spec, content_hash, plan

    def _still_valid(self, plan: Plan) -> bool:
        try:
            return all(self.registry.info(uses).cls is cls for uses, cls in plan.classes.items())
        except UnknownStep:
            return False

    def issues(self, loaded: LoadedPipeline) -> list[Issue]:
        """What ``validate`` finds in ``loaded`` against the enabled steps (cached)."""
        key = (loaded.content_hash, frozenset(self.registry))
        found = self._issues.get(key)
        if found is None:
            found = remember(self._issues, key, validate(loaded, self.registry))
        return found

    def _validate(self, loaded: LoadedPipeline) -> None:
        issues = self.issues(loaded)
        if issues:
            raise InvalidPipeline(
                f"{loaded.path}: {issues[0]}"
                + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""),
                errors=[issue.to_dict() for issue in issues],
            )

    # -- resume, cancel ----------------------------------------------------------------

    async def resume(
        self, run_id: str, actor: Actor, pipeline: PipelineSpec | LoadedPipeline | None = None
    ) -> RunHandle:
        """A new run of a failed or cancelled run, reusing what succeeded before.

        ``pipeline`` (same name) replaces the recorded version, e.g. after a fix.
        """
        old = await self.get(run_id, actor)
        if old.status not in ("failed", "cancelled"):
            raise RunStateConflict(
                f"Run {run_id} is {old.status}; only failed or cancelled runs can be resumed.",
                code="run_not_resumable",
            )
        if pipeline is None:
            stored = await self.store.spec(old.content_hash)
            if stored is None:
                raise RunStateConflict(
                    "The pipeline version of this run is not stored.", code="run_not_resumable"
                )
            pipeline = PipelineSpec.model_validate(stored)
        name = pipeline.spec.name if isinstance(pipeline, LoadedPipeline) else pipeline.name
        if name != old.pipeline:
            raise RunStateConflict(
                f"Run {run_id} is of {old.pipeline}, not {name}.", code="run_not_resumable"
            )
        inputs = old.inputs
        if blob_id_of(inputs):
            inputs = await self.store.blob(run_id, blob_id_of(inputs) or "")
        prior = await self.store.reusable_steps(run_id)
        return await self.start_run(pipeline, inputs, actor=actor, resumed_from=run_id, prior=prior)

    async def cancel(self, run_id: str, actor: Actor, *, wait: float = 10.0) -> RunRead:
        """Cancel a queued or running run, here or (through the bus) on another replica."""
        run = await self.get(run_id, actor)
        if run.status not in ACTIVE:
            raise RunStateConflict(
                f"Run {run_id} has already ended ({run.status}).", code="run_not_active"
            )
        handle = self.active.get(run_id)
        if handle is None:
            await self.kernel.bus.publish(
                Event(CANCEL_TOPIC, {"run_id": run_id, "by": actor.id}, user_id=run.actor_id)
            )
            return run
        handle.cancel()
        await asyncio.wait({handle.task}, timeout=wait)
        return await self.get(run_id, actor)

    async def _on_cancel(self, event: Event) -> None:
        handle = self.active.get(str(event.data.get("run_id")))
        if handle is not None:
            handle.cancel()

    # -- reading -----------------------------------------------------------------------

    async def get(self, run_id: str, actor: Actor) -> RunRead:
        """A run with its steps, as ``actor`` may see it; RunNotFound if they may not."""
        handle = self.active.get(run_id)
        run = handle.execution.read() if handle else await self.store.get(run_id)
        if run is None or not (actor.is_admin or (actor.id and run.actor_id == actor.id)):
            raise RunNotFound(f"No run {run_id}.")
        return run.for_viewer(actor.is_admin)

    async def page(self, actor: Actor, **filters: Any) -> tuple[list[RunSummary], str | None]:
        """A page of runs: the actor's own, or everyone's for admins (see RunStore.page)."""
        return await self.store.page(actor_id=None if actor.is_admin else actor.id, **filters)

    async def blob(self, run_id: str, blob_id: str, actor: Actor) -> Any:
        """A large value of a run the actor may see."""
        await self.get(run_id, actor)
        try:
            return await self.store.blob(run_id, blob_id)
        except KeyError:
            raise RunNotFound(
                f"Run {run_id} has no stored value {blob_id}.", code="value_not_found"
            ) from None

    # -- single steps ------------------------------------------------------------------

    async def call_step(
        self, name: str, inputs: Mapping[str, Any], ctx: StepContext, *, step_id: str
    ) -> dict[str, Any]:
        """Run the step ``name`` once on its usual executor, inside the step of ``ctx``.

        Chunks, log lines and cancellation are those of ``ctx``; nothing is recorded.
        """
        try:
            cls = self.registry.info(name).cls
        except UnknownStep:
            raise StepError(
                f"no enabled plugin provides the step {name!r}",
                code="unknown_step",
                retryable=False,
            ) from None
        try:
            model = cls.Inputs.model_validate(dict(inputs))
        except ValidationError as exc:
            raise StepError(
                f"invalid inputs for {name}: {exc.errors()[0]['msg']}",
                code="invalid_step_inputs",
                retryable=False,
            ) from None
        executor = self.executor(executor_for(None, cls, self.heavy_executor))
        job = StepJob(
            name,
            cls,
            model,
            ctx.run_id,
            step_id,
            ctx.attempt,
            ctx.actor,
            queue_for(None, cls),
            queue_timeout=self.kernel.settings.step_queue_timeout,
        )
        child = StepContext(
            ctx.run_id,
            step_id,
            ctx.actor,
            ctx.attempt,
            ctx.log,
            ctx.emitter,
            ctx.cancelled,
            ctx.kernel,
        )
        result = await executor.submit(job, child)
        return cls.Outputs.model_validate(result).model_dump(mode="json", by_alias=True)

    # -- pipelines ---------------------------------------------------------------------

    async def pipelines(self) -> list[CatalogEntry]:
        """The catalog's files (shipped ones and ``pipeline_dirs``), read off the loop."""
        return await asyncio.to_thread(self.catalog.entries)

    async def find(self, name: str) -> LoadedPipeline:
        """The catalog's pipeline ``name``; raises PipelineNotFound (404)."""
        try:
            return await asyncio.to_thread(self.catalog.get, name)
        except NotInCatalog:
            raise PipelineNotFound(f"No pipeline named {name!r}.") from None
