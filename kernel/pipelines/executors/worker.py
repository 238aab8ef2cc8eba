"""The local worker pool: ``heavy`` steps in separate processes, the embedded default.

Processes are started with the ``spawn`` method on first use, up to ``size`` of them
(``settings.worker_pool_size``; 0 means one per CPU). Each keeps its step instances, so a
step class is built and warmed up once per process. One job runs in a process at a
time; a reader thread per process hands its messages (chunks, log lines, the result)
to the event loop. A cancelled or timed-out job is told to stop; a process still busy
with it after ``cancel_grace`` seconds is killed and replaced on demand, so a step stuck
in CPU-bound code cannot hold a slot for ever. A process that dies fails its job with
the code ``worker_died``.

A job that finds every process busy waits for one to be free, for at most
``job.queue_timeout`` seconds (then it fails with ``queue_timeout``). It has started
(``job.started()``) when its process begins it — the process says so before anything
else — so neither the wait nor a new process's start-up counts against the step's
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from notewell.kernel.ids import new_id
from notewell.kernel.pipelines.errors import RemoteStepError
from notewell.kernel.pipelines.executors import StepJob, queue_timeout_error
from notewell.kernel.pipelines.executors.process import main as process_main
from notewell.kernel.pipelines.step import StepCancelled, StepContext

log = logging.getLogger("notewell.pipelines.worker")


@dataclass
class _Assignment:
    job_id: str
    future: asyncio.Future[dict[str, Any]]
    job: StepJob
    ctx: StepContext
    chunks: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


@dataclass(eq=False)
class _Worker:
    """One pool process. Messages to it go through ``outbox`` and a sender thread, so
    they leave in the order they were sent and the event loop never blocks on the pipe."""

    process: BaseProcess
    conn: Connection
    outbox: queue.SimpleQueue[tuple[Any, ...] | None] = field(default_factory=queue.SimpleQueue)
    current: _Assignment | None = None

    def send(self, message: tuple[Any, ...] | None) -> None:
        """Queue ``message`` for the process; ``None`` ends the sender thread."""
        self.outbox.put(message)

    def deliver(self) -> None:
        """Sender thread: write queued messages to the pipe until ``None`` or a broken pipe."""
        while (message := self.outbox.get()) is not None:
            try:
                self.conn.send(message)
            except (OSError, ValueError):
                return


class WorkerPool:
    """An :class:`~notewell.kernel.pipelines.executors.Executor` over local processes."""

    name = "worker"

    def __init__(self, size: int = 0, *, cancel_grace: float = 5.0) -> None:
        self.size = size or os.cpu_count() or 1
        self.cancel_grace = cancel_grace
        self._mp = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pids(self) -> list[int]:
        """The process ids of the live pool processes."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def submit(self, job: StepJob, ctx: StepContext) -> dict[str, Any]:
        """Run ``job`` in a pool process; chunks and log lines come back as they happen."""
        worker = await self._acquire(job)
        assignment = _Assignment(new_id(), asyncio.get_running_loop().create_future(), job, ctx)
        worker.current = assignment
        forwarder = asyncio.create_task(self._forward_chunks(assignment))
        cls = job.step_class
        message = (
            "run",
            assignment.job_id,
            cls.__module__,
            cls.__qualname__,
            job.step,
            job.inputs_json(),
            job.context_info(),
        )
        worker.send(message)
        try:
            result = await assignment.future
        except asyncio.CancelledError:
            self._abandon(worker, assignment)
            forwarder.cancel()
            raise
        except BaseException:
            await self._drain(assignment, forwarder)
            raise
        await self._drain(assignment, forwarder)
        return result

    async def _drain(self, assignment: _Assignment, forwarder: asyncio.Task[None]) -> None:
        assignment.chunks.put_nowait(_END)
        await forwarder

    @staticmethod
    async def _forward_chunks(assignment: _Assignment) -> None:
        while (chunk := await assignment.chunks.get()) is not _END:
            if chunk is _STARTED:
                await assignment.job.started()
            else:
                await assignment.ctx.emit(chunk)

    async def stop(self) -> None:
        """Ask every process to stop; kill those that do not within the grace period."""
        workers, self._workers, self._idle = list(self._workers), [], []
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        for worker in workers:
            current, worker.current = worker.current, None
            if current is not None and not current.future.done():
                current.future.set_exception(
                    RemoteStepError(
                        "WorkerStopped",
                        "the worker pool stopped during the step",
                        code="worker_stopped",
                    )
                )
            worker.send(("stop",))
            worker.send(None)
        await asyncio.to_thread(_join_all, workers, self.cancel_grace)

    # -- processes -------------------------------------------------------------------

    async def _acquire(self, job: StepJob) -> _Worker:
        """A process for ``job``: an idle one, a new one, or the next one to be free,
        waiting at most ``job.queue_timeout`` seconds."""
        if self._idle:
            return self._idle.pop()
        waiting = asyncio.timeout(job.queue_timeout)
        try:
            async with waiting:
                return await self._next_worker()
        except TimeoutError:
            if waiting.expired():
                raise queue_timeout_error(job, f"the local worker pool of {self.size}") from None
            raise

    async def _next_worker(self) -> _Worker:
        while True:
            if self._idle:
                return self._idle.pop()
            if len(self._workers) < self.size:
                return await self._spawn()
            waiter: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                handed = waiter.result() if waiter.done() and not waiter.cancelled() else None
                if handed is not None:
                    self._release(handed)  # handed over just as we were cancelled
                raise
            if handed is not None:
                return handed

    async def _spawn(self) -> _Worker:
        self._loop = asyncio.get_running_loop()
        parent, child = self._mp.Pipe()
        process = self._mp.Process(
            target=process_main, args=(child,), daemon=True, name="notewell-worker"
        )
        worker = _Worker(process, parent)
        self._workers.append(worker)  # hold the slot while the process starts
        try:
            await asyncio.to_thread(process.start)
        except BaseException:
            self._workers.remove(worker)
            raise
        finally:
            child.close()
        name = f"notewell-worker-{process.pid}"
        threading.Thread(target=self._read, args=(worker,), daemon=True, name=name).start()
        threading.Thread(target=worker.deliver, daemon=True, name=f"{name}-send").start()
        log.debug("worker process %s started", process.pid)
        return worker

    def _read(self, worker: _Worker) -> None:
        """Reader thread: every message from ``worker`` goes to the event loop."""
        loop = self._loop
        assert loop is not None
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    loop.call_soon_threadsafe(self._on_exit, worker)
                return
            try:
                loop.call_soon_threadsafe(self._on_message, worker, message)
            except RuntimeError:
                return

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        current, kind = worker.current, message[0]
        if kind == "ready" or current is None or message[1] != current.job_id:
            return  # a late message from a job we gave up on
        if kind == "started":
            current.chunks.put_nowait(_STARTED)  # in order with the chunks that follow
        elif kind == "chunk":
            current.chunks.put_nowait(message[2])
        elif kind == "log":
            current.ctx.log.log(message[2], "%s", message[3])
        elif kind in ("done", "error"):
            if not current.future.done():
                if kind == "done":
                    current.future.set_result(message[2])
                elif message[2].get("cancelled"):
                    current.future.set_exception(StepCancelled("the step stopped on cancel"))
                else:
                    current.future.set_exception(RemoteStepError.from_dict(message[2]))
            self._release(worker)

    def _on_exit(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        worker.send(None)  # ends its sender thread
        worker.process.join(timeout=0)
        current, worker.current = worker.current, None
        if current is not None and not current.future.done():
            current.future.set_exception(
                RemoteStepError(
                    "WorkerDied",
                    f"the worker process exited (code {worker.process.exitcode}) during the step",
                    code="worker_died",
                )
            )
        log.debug("worker process %s exited", worker.process.pid)
        self._wake(None)

    def _release(self, worker: _Worker) -> None:
        worker.current = None
        if worker not in self._workers:
            return
        if not self._wake(worker):
            self._idle.append(worker)

    def _wake(self, worker: _Worker | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return True
        return False

    def _abandon(self, worker: _Worker, assignment: _Assignment) -> None:
        """Tell the process to stop the job; kill it if it is still busy after the grace."""
        assignment.future.cancel()
        worker.send(("cancel", assignment.job_id))
        loop = asyncio.get_running_loop()
        loop.call_later(self.cancel_grace, self._kill_if_busy, worker, assignment.job_id)

    def _kill_if_busy(self, worker: _Worker, job_id: str) -> None:
        if worker.current is not None and worker.current.job_id == job_id:
            log.warning("worker process %s ignored a cancel; killing it", worker.process.pid)
            worker.process.kill()


_END = object()
_STARTED = object()


def _join_all(workers: list[_Worker], grace: float) -> None:
    for worker in workers:
        worker.process.join(timeout=grace)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=grace)
        worker.conn.close()
