"""The far side of an executor: running a step in a process that is not the server.

:func:`run_job` is what any remote executor calls (the local worker pool's processes
here, a Celery task next): it rebuilds the step's context from JSON, runs the step and
returns its outputs as JSON. :class:`WorkerProcess` is the main loop of one local pool
process, speaking to the pool over a pipe:

- parent → worker: ``("run", job_id, module, qualname, step, inputs, info)``,
  ``("cancel", job_id)``, ``("stop",)``
- worker → parent: ``("ready", pid)``, ``("started", job_id)`` (before anything else
  of the job), ``("chunk", job_id, chunk)``, ``("log", job_id, level, text)``,
  ``("done", job_id, outputs)``, ``("error", job_id, error)`` (see
  ``errors.describe_exception``)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from notewell.kernel.actor import Actor
from notewell.kernel.pipelines.errors import StepError, describe_exception
from notewell.kernel.pipelines.executors import StepHost
from notewell.kernel.pipelines.step import Step, StepCancelled, StepContext


class CrossThreadCancel(asyncio.Event):
    """``ctx.cancelled`` in a worker: ``is_set()`` is true the moment a cancel arrives,
    even while a CPU-bound step holds the event loop (so ``check_cancelled()`` works)."""

    def __init__(self) -> None:
        super().__init__()
        self.flag = threading.Event()

    def is_set(self) -> bool:
        return self.flag.is_set() or super().is_set()


class _Forward(logging.Handler):
    def __init__(self, send: Callable[[int, str], None]) -> None:
        super().__init__(logging.INFO)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError, ValueError):  # the parent is gone: nobody to tell
            self.send(record.levelno, record.getMessage())


def import_step(module: str, qualname: str, name: str) -> type[Step]:
    """The step class at ``module:qualname``, checked to be the step named ``name``."""
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise StepError(
            f"step {name} ({module}.{qualname}) cannot be imported in a worker process; "
            "define step classes at module level",
            code="step_not_importable",
            retryable=False,
        ) from None
    if not (isinstance(found, type) and issubclass(found, Step) and found.name == name):
        raise StepError(
            f"{module}.{qualname} is not the step {name}",
            code="step_not_importable",
            retryable=False,
        )
    return found


async def run_job(
    cls: type[Step],
    host: StepHost,
    inputs_json: dict[str, Any],
    info: dict[str, Any],
    *,
    emit: Callable[[Any], Awaitable[None]],
    log: Callable[[int, str], None],
    cancelled: asyncio.Event,
) -> dict[str, Any]:
    """Run one attempt of ``cls`` on JSON inputs; return its outputs as JSON."""
    actor = info.get("actor") or {}
    logger = logging.Logger(f"notewell.step.{cls.name}", logging.INFO)
    logger.propagate = False
    logger.addHandler(_Forward(log))
    ctx = StepContext(
        run_id=info["run_id"],
        step_id=info["step_id"],
        attempt=int(info.get("attempt", 1)),
        actor=Actor(
            id=actor.get("id"),
            kind=actor.get("kind", "user"),
            name=actor.get("name", ""),
            roles=frozenset(actor.get("roles", ())),
        ),
        log=logger,
        emitter=emit,
        cancelled=cancelled,
        kernel=None,
    )
    step = await host.instance(cls)
    outputs = await step.run(cls.Inputs.model_validate(inputs_json), ctx)
    return cls.Outputs.model_validate(outputs).model_dump(mode="json", by_alias=True)


@dataclass
class _Slot:
    cancel: CrossThreadCancel
    task: asyncio.Task[None] | None = None
    started: bool = False


class WorkerProcess:
    """One process of the local worker pool: an event loop fed by a reader thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.loop = asyncio.new_event_loop()
        self.host = StepHost()
        self.jobs: dict[str, _Slot] = {}
        self._send_lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self.conn.send(message)

    def serve(self) -> None:
        """Run until told to stop or the parent goes away."""
        asyncio.set_event_loop(self.loop)
        threading.Thread(target=self._read, name="notewell-worker-reader", daemon=True).start()
        self.send(("ready", os.getpid()))
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = ("stop",)
            kind = message[0]
            if kind == "run":
                slot = _Slot(CrossThreadCancel())
                self.jobs[message[1]] = slot
                self.loop.call_soon_threadsafe(self._start, slot, message)
            elif kind == "cancel" and message[1] in self.jobs:
                self.jobs[message[1]].cancel.flag.set()
                self.loop.call_soon_threadsafe(self._cancel, message[1])
            elif kind == "stop":
                self.loop.call_soon_threadsafe(self.loop.stop)
                return

    def _start(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        slot.task = self.loop.create_task(self._job(slot, *message[1:]))

    def _cancel(self, job_id: str) -> None:
        slot = self.jobs.get(job_id)
        if slot is not None:
            slot.cancel.set()
            # a task cancelled before it starts never runs, and would never answer
            if slot.task is not None and slot.started:
                slot.task.cancel()

    async def _job(
        self,
        slot: _Slot,
        job_id: str,
        module: str,
        qualname: str,
        name: str,
        inputs: dict[str, Any],
        info: dict[str, Any],
    ) -> None:
        async def emit(chunk: Any) -> None:
            self.send(("chunk", job_id, chunk))

        def log(level: int, text: str) -> None:
            self.send(("log", job_id, level, text))

        slot.started = True
        try:
            if slot.cancel.is_set():
                raise asyncio.CancelledError
            self.send(("started", job_id))
            cls = import_step(module, qualname, name)
            outputs = await run_job(
                cls, self.host, inputs, info, emit=emit, log=log, cancelled=slot.cancel
            )
            self.send(("done", job_id, outputs))
        except (asyncio.CancelledError, StepCancelled):
            self.send(
                (
                    "error",
                    job_id,
                    {"type": "StepCancelled", "message": "cancelled", "cancelled": True},
                )
            )
        except Exception as exc:  # every failure goes back to the parent as data
            self.send(("error", job_id, describe_exception(exc)))
        finally:
            self.jobs.pop(job_id, None)


def main(conn: Connection) -> None:
    """The target of each pool process."""
    WorkerProcess(conn).serve()
