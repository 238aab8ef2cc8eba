"""Executors run one attempt of one step. The step code is the same in all of them.

- ``inline`` (:class:`InlineExecutor`): on the server's event loop; for async I/O.
- ``worker`` (:class:`~notewell.kernel.pipelines.executors.worker.WorkerPool`): a pool of
  local processes (spawn start method), the embedded default for ``heavy`` steps.
- ``celery``: added by the Celery integration; it implements :class:`Executor` too.

The runner renders and validates a step's inputs, then hands the executor a
:class:`StepJob` and the parent-side :class:`StepContext` (for ``emit``, ``log`` and
``cancelled``); the executor returns the step's outputs (the ``Outputs`` model, or its
JSON) or raises the step's exception (:class:`RemoteStepError` from another process).
To cancel, the runner cancels the task awaiting ``submit``: the executor must then
tell the step (``ctx.cancelled`` on the far side, revoke, kill) and re-raise.

An executor calls ``await job.started()`` when the attempt begins executing, before it
forwards any of its chunks. A step on any executor but ``inline`` is ``queued`` until
then (waiting in a broker queue, for a free pool process, for a new process to start)
and the step's ``timeout:`` counts from then, so the wait for a worker is not part of
it. The wait itself is bounded by ``job.queue_timeout``: past it the executor gives up
with :func:`queue_timeout_error` (``queue_timeout``).

Which executor and queue a step gets (see :func:`executor_for` and :func:`queue_for`):

======================================  ============  ===============
step                                    executor      queue
======================================  ============  ===============
``executor:`` set in YAML               that one      as below
``heavy = True`` or ``gpu`` (class)     the heavy     ``batch`` / ``gpu``
``resources: {gpu: N}`` (N > 0)         the heavy     ``gpu``
anything else                           ``inline``    ``interactive``
``resources: {queue: q}``               unchanged     ``q``
======================================  ============  ===============

"The heavy executor" is ``worker`` in the embedded default and ``celery`` once a Celery
executor is registered. ``executor: celery`` without Celery falls back to ``worker``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from notewell.kernel.actor import Actor
from notewell.kernel.pipelines.errors import StepError
from notewell.kernel.pipelines.spec import StepSpec
from notewell.kernel.pipelines.step import Step, StepContext

INTERACTIVE, BATCH, GPU = "interactive", "batch", "gpu"

QUEUE_TIMEOUT_S = 3600.0
"""How long an attempt may wait for a free worker when its job does not say (the runner
passes ``settings.step_queue_timeout``, whose default this is)."""


@dataclass(frozen=True, slots=True)
class StepJob:
    """One attempt of one step, as an executor receives it.

    Local executors use ``step_class`` and the validated ``inputs`` model; remote ones
    send ``step`` (the registered name, which the far side looks up in its own
    registry), :meth:`inputs_json` and :meth:`context_info`, and use :attr:`key` as the
    idempotent task id.

    ``on_started`` is the runner's; executors call it through :meth:`started`.
    """

    step: str
    step_class: type[Step]
    inputs: BaseModel
    run_id: str
    step_id: str
    attempt: int = 1
    actor: Actor = field(default_factory=lambda: Actor(id=None))
    queue: str = INTERACTIVE
    timeout: float | None = None
    queue_timeout: float | None = QUEUE_TIMEOUT_S
    on_started: Callable[[], Awaitable[None]] | None = field(
        default=None, repr=False, compare=False
    )

    async def started(self) -> None:
        """Tell the runner the attempt runs now (its timeout starts); a second call, for
        an attempt that starts again on another worker, changes nothing."""
        if self.on_started is not None:
            await self.on_started()

    @property
    def key(self) -> str:
        """``<run>:<step>:<attempt>``: the same attempt always has the same key."""
        return f"{self.run_id}:{self.step_id}:{self.attempt}"

    def inputs_json(self) -> dict[str, Any]:
        return self.inputs.model_dump(mode="json", by_alias=True)

    def context_info(self) -> dict[str, Any]:
        """What the far side needs to build the step's :class:`StepContext` (JSON)."""
        return {
            "run_id": self.run_id,
            "step_id": self.step_id,
            "attempt": self.attempt,
            "actor": {**self.actor.to_public(), "attributes": {}},
            "step": self.step,
            "queue": self.queue,
            "key": self.key,
            "timeout": self.timeout,
        }


class Executor(Protocol):
    """What the runner needs from an executor (a Celery one implements this too)."""

    name: str

    async def start(self) -> None:
        """Get ready; called once when the kernel starts (may do nothing until used)."""

    async def stop(self) -> None:
        """Stop taking work and release processes or connections."""

    async def submit(self, job: StepJob, ctx: StepContext) -> BaseModel | dict[str, Any]:
        """Run ``job`` to its end and return its outputs.

        Wait for a worker at most ``job.queue_timeout`` seconds; call
        ``job.started()`` when the attempt begins executing, then forward the step's
        chunks to ``ctx.emit`` and its log lines to ``ctx.log``, in order, before
        returning. Raise the step's exception (or
        :class:`~notewell.kernel.pipelines.errors.RemoteStepError`). When the awaiting
        task is cancelled, stop the step and re-raise ``CancelledError``.
        """
        ...


class StepHost:
    """The step instances of one process: each class built once and warmed up once."""

    def __init__(self) -> None:
        self._instances: dict[type[Step], Step] = {}
        self._locks: dict[type[Step], asyncio.Lock] = {}

    async def instance(self, cls: type[Step]) -> Step:
        """The warmed-up instance of ``cls``; a failed ``warm_up`` is tried again next time."""
        found = self._instances.get(cls)
        if found is not None:
            return found
        lock = self._locks.setdefault(cls, asyncio.Lock())
        async with lock:
            found = self._instances.get(cls)
            if found is None:
                found = cls()
                await found.warm_up()
                self._instances[cls] = found
        return found


class InlineExecutor:
    """Runs steps on the event loop of the calling process."""

    name = "inline"

    def __init__(self) -> None:
        self.host = StepHost()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, job: StepJob, ctx: StepContext) -> BaseModel | dict[str, Any]:
        await job.started()  # nothing to wait for
        step = await self.host.instance(job.step_class)
        result: BaseModel | dict[str, Any] = await step.run(job.inputs, ctx)
        return result


def queue_timeout_error(job: StepJob, where: str) -> StepError:
    """The error of an attempt that waited ``job.queue_timeout`` seconds for a worker."""
    return StepError(
        f"the step waited {job.queue_timeout:g}s for a free worker ({where}) and none "
        "took it; add workers or raise NOTEWELL_STEP_QUEUE_TIMEOUT",
        code="queue_timeout",
        retryable=False,
    )


def executor_for(spec: StepSpec | None, cls: type[Step], heavy_executor: str = "worker") -> str:
    """The executor a step runs on (see the module docstring); ``spec`` may be absent."""
    spec = spec or _NO_SPEC
    if spec.executor is not None:
        return spec.executor
    if cls.heavy or cls.gpu or spec.resources.gpu > 0:
        return heavy_executor
    return "inline"


def queue_for(spec: StepSpec | None, cls: type[Step]) -> str:
    """The queue a step's work belongs on: interactive work never waits behind batch work."""
    spec = spec or _NO_SPEC
    if spec.resources.queue:
        return spec.resources.queue
    if spec.resources.gpu > 0 or cls.gpu:
        return GPU
    return BATCH if cls.heavy else INTERACTIVE


_NO_SPEC = StepSpec.model_validate({"id": "step", "uses": "core.step"})
