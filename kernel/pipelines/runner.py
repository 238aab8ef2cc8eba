"""The runner: one run of one pipeline, from its first ready step to its outputs.

Steps form a DAG (``needs`` plus references, from ``refs.step_dependencies``); every
step whose dependencies have ended is started at once, so independent steps run
concurrently. For each step, in order:

1. **skip?** A step whose dependency was skipped or failed (with
   ``continue_on_error``) is skipped too, unless it has an ``if:``; an ``if:`` that
   is false skips it.
2. **render** its ``with:`` against the scope and **validate** the result with the
   step's ``Inputs`` model (``expression_error`` / ``invalid_step_inputs``).
3. **reuse**: when resuming, a step whose type and inputs equal those of a step that
   succeeded in the earlier run takes that step's outputs instead of running.
4. **execute** on its executor, each attempt under ``timeout:`` (``step_timeout``),
   tried again per its retry policy (YAML ``retry:``, else the class's ``retry``).
   A step for any executor but ``inline`` is ``queued`` until a worker starts it
   (``job.started()``); its timeout counts from then, not from when it was sent.

A failing step fails the run — its running siblings are cancelled — unless it has
``continue_on_error``. A cancelled run cancels its running steps (each sees
``ctx.cancelled``, then ``CancelledError``) and ends ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.events import Event
from notewell.kernel.pipelines import refs
from notewell.kernel.pipelines.errors import StepError, StepFailed, StepTimeout, describe_invalid
from notewell.kernel.pipelines.executors import StepJob, executor_for, queue_for
from notewell.kernel.pipelines.plan import Plan
from notewell.kernel.pipelines.records import RunRead, StepRunRead
from notewell.kernel.pipelines.spec import RetrySpec
from notewell.kernel.pipelines.state import LogCapture, StepState, step_logger
from notewell.kernel.pipelines.step import Step, StepCancelled, StepContext

if TYPE_CHECKING:
    from notewell.kernel.pipelines.service import PipelineService

log = logging.getLogger("notewell.pipelines")

ONE_ATTEMPT = RetrySpec.model_validate({"attempts": 1})


class RunExecution:
    """Executes one run; :meth:`execute` returns when the run's record is final."""

    def __init__(
        self,
        service: PipelineService,
        run: RunRead,
        plan: Plan,
        actor: Actor,
        prior: Mapping[str, StepRunRead] | None = None,
    ) -> None:
        self.service = service
        self.run = run
        self.plan = plan
        self.actor = actor
        self.prior = dict(prior or {})
        self.states = {step.id: StepState(step) for step in plan.spec.steps}
        self.scope: dict[str, Any] = {"inputs": run.inputs, "steps": {}}
        self.failure: StepFailed | None = None
        self.stop_reason: dict[str, str] | None = None
        self._done: asyncio.Queue[StepState] = asyncio.Queue()
        self._clock = time.perf_counter()
        self._events = 0

    # -- the run -----------------------------------------------------------------------

    async def execute(self) -> RunRead:
        """Run every step, render the outputs, write the final record, tell everyone."""
        await self._publish("run.started", self._summary())
        await self.service.notify("on_run_started", run=self.run)
        await self._schedule()
        values = self._outcome()
        self.run = self.run.model_copy(update={**values, "steps": None})
        self.service.store.finish(self.run.id, values)
        await self._publish("run.finished", self._summary())
        await self.service.notify("on_run_finished", run=self.run)
        return self.run

    async def _schedule(self) -> None:
        waiting = {step_id: len(required) for step_id, required in self.plan.needs.items()}
        ready = [self.states[step_id] for step_id, count in waiting.items() if count == 0]
        running = 0
        while True:
            if self.stop_reason is None and self.failure is None:
                for state in ready:
                    state.task = asyncio.create_task(self._run_step(state))
                    running += 1
            ready = []
            if running == 0:
                return
            state = await self._done.get()
            running -= 1
            if state.status == "failed" and not state.spec.continue_on_error:
                self._fail_fast(state)
            for other in self.plan.dependents[state.id]:
                waiting[other] -= 1
                if waiting[other] == 0:
                    ready.append(self.states[other])

    def _fail_fast(self, state: StepState) -> None:
        if self.failure is None and self.stop_reason is None:
            self.failure = state.failure
            self._cancel_running()

    def cancel(self, code: str = "run_cancelled", message: str = "the run was cancelled") -> None:
        """Stop the run: no new steps; running steps are cancelled."""
        if self.stop_reason is None and self.failure is None:
            self.stop_reason = {"code": code, "message": message}
        self._cancel_running()

    def _cancel_running(self) -> None:
        for state in self.states.values():
            active = state.status in ("queued", "running")
            if active and state.task and not state.cancelled.is_set():
                state.cancelled.set()
                state.task.cancel()

    def _outcome(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "finished_at": utcnow(),
            "outputs": None,
            "duration_ms": round((time.perf_counter() - self._clock) * 1e3, 3),
        }
        if self.stop_reason is not None:
            cancelled = self.stop_reason["code"] == "run_cancelled"
            return {
                **values,
                "status": "cancelled" if cancelled else "failed",
                "error": dict(self.stop_reason),
                "traceback": None,
            }
        if self.failure is not None:
            return {
                **values,
                "status": "failed",
                "error": self.failure.to_record(),
                "traceback": self.failure.traceback,
            }
        try:
            outputs = refs.render(self.plan.spec.outputs, self.scope)
        except refs.ExpressionError as exc:
            message = f"the pipeline's outputs could not be rendered: {exc}"
            return {
                **values,
                "status": "failed",
                "traceback": None,
                "error": {"code": "expression_error", "message": message, "step_id": None},
            }
        return {
            **values,
            "status": "succeeded",
            "outputs": outputs,
            "error": None,
            "traceback": None,
        }

    # -- one step ----------------------------------------------------------------------

    async def _run_step(self, state: StepState) -> None:
        try:
            await self._step(state)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            state.end("cancelled")
        except StepFailed as failure:
            state.failure = failure
            state.end("failed", failure)
        await self._finished(state)

    async def _step(self, state: StepState) -> None:
        spec = state.spec
        if self.stop_reason is not None or self.failure is not None:
            raise asyncio.CancelledError  # launched just before the run stopped
        if self._skipped(state):
            state.end("skipped")
            return
        cls = self.plan.classes[spec.uses]
        state.begin()
        state.executor = executor_for(spec, cls, self.service.heavy_executor)
        await self._wait_or_run(state)
        inputs = self._inputs(state, cls)
        state.inputs = inputs.model_dump(mode="json", by_alias=True)
        prior = self.prior.get(spec.id)
        if prior is not None and prior.uses == spec.uses and prior.inputs == state.inputs:
            state.outputs = prior.outputs
            state.executor = None  # it ran nowhere
            state.end("reused")
            return
        state.outputs = await self._attempts(state, cls, inputs)
        state.end("succeeded")

    async def _wait_or_run(self, state: StepState) -> None:
        """Before each attempt: an inline step runs at once (``run.step_started``), any
        other waits for a worker (``run.step_queued``) until :meth:`_started`."""
        if state.executor == "inline":
            if state.attempts == 0:
                await self._publish("run.step_started", state.event(self.run.id))
        elif state.status != "queued":
            state.status = "queued"
            await self._publish("run.step_queued", state.event(self.run.id))

    async def _started(self, state: StepState) -> None:
        """``job.started()``: a worker took the queued step; it runs from now."""
        if state.status != "queued":
            return  # inline, or started again after its worker was lost
        if state.attempts == 1:
            state.begin()  # its timings count from its first start, not from the queue
        else:
            state.status = "running"
        await self._publish("run.step_started", state.event(self.run.id))

    def _skipped(self, state: StepState) -> bool:
        spec = state.spec
        blocked = any(
            self.states[dep].status in ("skipped", "failed", "cancelled")
            for dep in self.plan.needs[spec.id]
        )
        if spec.if_ is None:
            return blocked
        try:
            return not refs.evaluate_condition(spec.if_, self.scope)
        except refs.ExpressionError as exc:
            raise StepFailed(spec.id, spec.uses, exc, code="expression_error") from None

    def _inputs(self, state: StepState, cls: type[Step]) -> BaseModel:
        spec = state.spec
        try:
            rendered = refs.render(spec.with_, self.scope)
        except refs.ExpressionError as exc:
            raise StepFailed(spec.id, spec.uses, exc, code="expression_error") from None
        state.inputs = rendered
        try:
            return cls.Inputs.model_validate(rendered)
        except ValidationError as exc:
            cause = StepError(describe_invalid(exc, "inputs"), code="invalid_step_inputs")
            raise StepFailed(spec.id, spec.uses, cause) from None

    async def _attempts(
        self, state: StepState, cls: type[Step], inputs: BaseModel
    ) -> dict[str, Any]:
        spec = state.spec
        policy = spec.retry or cls.retry or ONE_ATTEMPT
        state.capture = LogCapture()
        logger = step_logger(spec.uses, state.capture)
        while True:
            if state.attempts:
                await self._wait_or_run(state)  # back in the queue for the next attempt
            state.attempts += 1
            result, cause = await self._attempt(state, cls, inputs, logger)
            if cause is None:
                return self._outputs(state, cls, result)
            if state.attempts >= policy.attempts or not getattr(cause, "retryable", True):
                raise StepFailed(spec.id, spec.uses, cause)
            delay = policy.delay(state.attempts)
            logger.warning(
                "attempt %d failed (%s); trying again in %gs", state.attempts, cause, delay
            )
            await asyncio.sleep(delay)

    async def _attempt(
        self, state: StepState, cls: type[Step], inputs: BaseModel, logger: logging.Logger
    ) -> tuple[Any, BaseException | None]:
        """One try on the step's executor: ``(result, None)``, or ``(None, cause)``.

        The attempt's ``timeout:`` runs from when the executor says it started."""
        spec, run_id = state.spec, self.run.id
        deadline = asyncio.timeout(None)

        async def started() -> None:
            if spec.timeout is not None and deadline.when() is None:
                deadline.reschedule(asyncio.get_running_loop().time() + spec.timeout)
            await self._started(state)

        job = StepJob(
            spec.uses,
            cls,
            inputs,
            run_id,
            spec.id,
            state.attempts,
            self.actor,
            queue_for(spec, cls),
            spec.timeout,
            queue_timeout=self.service.kernel.settings.step_queue_timeout,
            on_started=started,
        )
        ctx = StepContext(
            run_id,
            spec.id,
            self.actor,
            state.attempts,
            logger,
            self._emitter(state),
            state.cancelled,
            self.service.kernel,
        )
        executor = self.service.executor(state.executor or "inline")
        try:
            async with deadline:
                return await executor.submit(job, ctx), None
        except TimeoutError as exc:
            return None, (StepTimeout(spec.timeout or 0) if deadline.expired() else exc)
        except StepCancelled:
            raise asyncio.CancelledError from None
        except Exception as exc:  # the step boundary: any failure is the step's, wrapped once
            return None, exc

    def _outputs(self, state: StepState, cls: type[Step], result: Any) -> dict[str, Any]:
        try:
            outputs = cls.Outputs.model_validate(result)
        except ValidationError as exc:
            cause = StepError(describe_invalid(exc, "outputs"), code="invalid_step_outputs")
            raise StepFailed(state.id, state.spec.uses, cause) from None
        return outputs.model_dump(mode="json", by_alias=True)

    def _emitter(self, state: StepState) -> Any:
        """``ctx.emit``: chunks become ``run.chunk`` events when the step streams — its
        ``stream:`` when the YAML sets it, else the step type's ``streaming``."""
        spec = state.spec
        streams = spec.stream if "stream" in spec.model_fields_set else self._streaming(spec.uses)

        async def emit(chunk: Any) -> None:
            state.chunks += 1
            data = {"run_id": self.run.id, "step_id": state.id, "seq": state.chunks, "chunk": chunk}
            await self._publish("run.chunk", data)

        async def drop(chunk: Any) -> None:
            state.chunks += 1

        return emit if streams else drop

    def _streaming(self, uses: str) -> bool:
        return self.plan.classes[uses].streaming

    async def _finished(self, state: StepState) -> None:
        status = state.status
        self.scope["steps"][state.id] = {"outputs": state.outputs or {}, "status": status}
        self.service.store.add_steps([state.row(self.run.id)])
        try:
            await self._publish("run.step_finished", state.event(self.run.id))
            if self.service.has_hook("on_step_finished"):
                await self.service.notify(
                    "on_step_finished", run=self.run, step=state.read(self.run.id)
                )
        finally:
            self._done.put_nowait(state)  # whatever happens, the scheduler hears of it

    # -- views -------------------------------------------------------------------------

    async def _publish(self, topic: str, data: dict[str, Any]) -> None:
        # ids unique and ordered within the run, cheaper than a new ULID per event
        self._events += 1
        event = Event(topic, data, user_id=self.actor.id, id=f"{self.run.id}.{self._events}")
        try:
            await self.service.kernel.bus.publish(event)
        except Exception:  # events are a live view; the record stays the truth
            log.warning("could not publish %s for run %s", topic, self.run.id, exc_info=True)

    def _summary(self) -> dict[str, Any]:
        run = self.run
        return {
            "run_id": run.id,
            "pipeline": run.pipeline,
            "version": run.version,
            "status": run.status,
            "error": run.error,
            "resumed_from": run.resumed_from,
            "duration_ms": run.duration_ms,
            "steps": [step.id for step in self.plan.spec.steps],
        }

    def read(self) -> RunRead:
        """The run as it stands now, from memory (what the API shows while it runs)."""
        steps = [
            state.read(self.run.id) for state in self.states.values() if state.status != "pending"
        ]
        return self.run.model_copy(update={"steps": steps})
