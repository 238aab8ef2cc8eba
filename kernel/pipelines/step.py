"""The step contract: what a plugin implements to add a step type to pipelines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from notewell.kernel.actor import ANONYMOUS, Actor
from notewell.kernel.pipelines.spec import RetrySpec


class StepCancelled(Exception):
    """Raised inside a step (by ``ctx.check_cancelled()``) when its run was cancelled."""


@dataclass
class StepContext:
    """What a running step may use.

    - ``run_id`` / ``step_id`` / ``attempt``: where it is.
    - ``actor``: who started the run; scope every query to them.
    - ``log``: a logger whose lines land in the step's record.
    - ``emit(chunk)``: publish a streamed chunk (a token, a progress note) to watchers.
    - ``cancelled``: set when the run is cancelled; long loops call ``check_cancelled()``.
    - ``kernel``: the kernel, for database sessions and the bus — ``None`` when the step
      runs in a worker process (worker pool or Celery), where only ``emit`` and ``log``
      are available; heavy steps should be pure functions of their inputs.
    """

    run_id: str
    step_id: str
    actor: Actor = ANONYMOUS
    attempt: int = 1
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("notewell.step"))
    emitter: Callable[[Any], Awaitable[None]] | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    kernel: Any = None

    async def emit(self, chunk: Any) -> None:
        if self.emitter is not None:
            await self.emitter(chunk)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise StepCancelled(f"run {self.run_id} was cancelled")


class Step:
    """Base class of every pipeline step type.

    Subclasses set ``name`` (``<plugin>.<verb_noun>``), nested pydantic ``Inputs`` and
    ``Outputs`` models, and implement ``async run(inputs, ctx) -> Outputs``. The
    docstring is the step's documentation (docs/steps.md is generated from it).
    ``__init__`` must be cheap; load models or clients in ``async warm_up()``, which
    runs once per process before the first ``run``.

    Metadata the kernel maps onto executors (plugins never import Celery):

    - ``heavy``: CPU-bound; runs in the local worker pool (or Celery) by default.
    - ``gpu``: wants a GPU; routed to the GPU queue when Celery is configured.
    - ``streaming``: emits chunks through ``ctx.emit`` while running.
    - ``idempotent``: safe to run twice with the same inputs (Celery redelivery).
    - ``retry``: the default retry policy, overridable per step in YAML.
    """

    name: ClassVar[str] = ""
    Inputs: ClassVar[type[BaseModel]]
    Outputs: ClassVar[type[BaseModel]]
    heavy: ClassVar[bool] = False
    gpu: ClassVar[bool] = False
    streaming: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True
    retry: ClassVar[RetrySpec | None] = None

    async def warm_up(self) -> None:
        """Load heavy state once per process. The default does nothing."""

    async def run(self, inputs: Any, ctx: StepContext) -> Any:
        raise NotImplementedError
