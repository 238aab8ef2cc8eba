"""The worker side of the Celery executor: the task that runs one attempt of one step.

``notewell worker`` loads the plugins as the server does, builds a
:class:`WorkerRuntime` over the same step registry and calls :func:`install`. In each
worker process the task runs the step with
:func:`~notewell.kernel.pipelines.executors.process.run_job` — exactly what the local
pool does — on an event loop and a :class:`StepHost` kept for the life of the process,
so each step class is built and warmed up once per process.

Exactly once, as far as a step can tell (keys in :mod:`notewell.kernel.celery_app`):

- the first outcome of an attempt is stored with ``SET NX``; a redelivered message whose
  attempt already ended only announces the stored outcome again;
- a worker **claims** an attempt before running it and refreshes the claim while it
  runs; a second copy waits for that run's end, or for its claim to lapse;
- an attempt that **started** before on a worker that was lost runs again only if its
  step is ``idempotent``; otherwise it fails with ``worker_lost`` rather than apply
  its side effect twice.

While a step runs, a watcher thread reads the attempt's control stream: a ``cancel``
sets ``ctx.cancelled`` at once (also for a step busy in CPU-bound code) and cancels the
step's task. Each worker's main process extends the visibility of the messages it holds
and marks the queues it consumes alive on every beat (:class:`Heartbeat`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Celery, bootsteps  # type: ignore[import-untyped]
from celery.exceptions import Reject  # type: ignore[import-untyped]
from celery.worker import state as worker_state  # type: ignore[import-untyped]
from redis import Redis
from redis.exceptions import RedisError

from notewell.kernel.celery_app import (
    KEEP_S,
    TASK_NAME,
    UNACKED_INDEX,
    JobKeys,
    alive_key,
    beat_interval,
)
from notewell.kernel.pipelines.errors import StepError, describe_exception
from notewell.kernel.pipelines.executors import StepHost
from notewell.kernel.pipelines.executors.process import CrossThreadCancel, run_job
from notewell.kernel.pipelines.registry import StepRegistry, UnknownStep
from notewell.kernel.pipelines.step import Step, StepCancelled

log = logging.getLogger("notewell.celery")

CLAIM_TTL_S = 6
"""A claim not refreshed for this long belongs to a lost worker."""
WATCH_BLOCK_MS = 1000
"""How long the watcher waits for a cancel before refreshing the claim again."""
CANCELLED: dict[str, Any] = {"status": "cancelled"}


@dataclass
class _Process:
    """What one worker process keeps between tasks."""

    pid: int
    loop: asyncio.AbstractEventLoop
    host: StepHost = field(default_factory=StepHost)


class WorkerRuntime:
    """Runs the attempts a worker receives, against its own step registry."""

    def __init__(
        self,
        registry: StepRegistry,
        redis_url: str,
        *,
        node: str,
        queues: Sequence[str],
        visibility_timeout: float,
    ) -> None:
        self.registry = registry
        self.redis_url = redis_url
        self.node = node
        self.queues = list(queues)
        self.beat_s = beat_interval(visibility_timeout)
        self._process: _Process | None = None
        self._redis: tuple[int, Redis] | None = None

    def redis(self) -> Redis:
        """This process's client (a forked child makes its own)."""
        if self._redis is None or self._redis[0] != os.getpid():
            client = Redis.from_url(
                self.redis_url, decode_responses=True, socket_timeout=30, socket_connect_timeout=5
            )
            self._redis = (os.getpid(), client)
        return self._redis[1]

    def process(self) -> _Process:
        """This process's event loop and step instances."""
        if self._process is None or self._process.pid != os.getpid():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._process = _Process(os.getpid(), loop)
        return self._process

    # -- one attempt -------------------------------------------------------------------

    def handle(self, key: str, step: str, inputs: dict[str, Any], info: dict[str, Any]) -> None:
        """Run the attempt ``key`` unless it already ended or was cancelled; announce how
        it ended on its events stream."""
        keys, redis = JobKeys(key), self.redis()
        stored = redis.get(keys.outcome)
        if stored is not None:
            log.info("attempt %s already ended; announcing its outcome again", key)
            self._announce(keys, str(stored))
            return
        if redis.exists(keys.control):
            self._finish(keys, CANCELLED)
            return
        token = self._claim(keys)
        if token is None:
            return
        outcome = self._execute(keys, token, step, inputs, info)
        self._finish(keys, outcome)

    def _claim(self, keys: JobKeys) -> str | None:
        """Claim the attempt; ``None`` when another copy of it ended meanwhile."""
        redis, token = self.redis(), f"{self.node}:{os.getpid()}:{uuid.uuid4().hex}"
        while not redis.set(keys.claim, token, nx=True, ex=CLAIM_TTL_S):
            stored = redis.get(keys.outcome)
            if stored is not None:
                self._announce(keys, str(stored))
                return None
            time.sleep(1)  # a copy runs elsewhere (rare): wait for its end or its loss
        return token

    def _execute(
        self, keys: JobKeys, token: str, step: str, inputs: dict[str, Any], info: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            cls = self.registry.info(step).cls
        except UnknownStep:
            message = f"no enabled plugin on worker {self.node} provides the step {step!r}"
            return _failed(StepError(message, code="unknown_step", retryable=False))
        redis = self.redis()
        first = bool(redis.set(keys.started, token, nx=True, ex=KEEP_S))
        started = {"worker": self.node, "pid": os.getpid(), "again": not first}
        self._add(keys, "started", started)
        if not first:
            if not cls.idempotent:
                message = (
                    "the worker running this step was lost, and the step is not idempotent: "
                    "it is not run a second time"
                )
                return _failed(StepError(message, code="worker_lost", retryable=False))
            self._log(
                keys, logging.WARNING, "the worker running this step was lost; running it again"
            )
        return self._run(keys, cls, inputs, info)

    def _run(
        self, keys: JobKeys, cls: type[Step], inputs: dict[str, Any], info: dict[str, Any]
    ) -> dict[str, Any]:
        here, cancel = self.process(), CrossThreadCancel()

        async def emit(chunk: Any) -> None:
            self._add(keys, "chunk", chunk)

        def log_line(level: int, text: str) -> None:
            self._log(keys, level, text)

        job = here.loop.create_task(
            run_job(cls, here.host, inputs, info, emit=emit, log=log_line, cancelled=cancel)
        )
        watcher = ControlWatcher(self.redis(), keys, lambda: _cancel(here.loop, job, cancel))
        watcher.start()
        try:
            outputs = here.loop.run_until_complete(job)
        except (asyncio.CancelledError, StepCancelled):
            return CANCELLED
        except Exception as exc:  # the step boundary: every failure goes back as data
            return _failed(exc)
        finally:
            watcher.stop()
        return {"status": "succeeded", "outputs": outputs}

    def _finish(self, keys: JobKeys, outcome: dict[str, Any]) -> None:
        """Store the outcome unless one is stored already (the first wins), announce it."""
        redis, text = self.redis(), json.dumps(outcome)
        if not redis.set(keys.outcome, text, nx=True, ex=KEEP_S):
            text = str(redis.get(keys.outcome) or text)
        self._announce(keys, text)
        redis.delete(keys.claim)

    def _announce(self, keys: JobKeys, outcome_json: str) -> None:
        pipe = self.redis().pipeline(transaction=False)
        pipe.xadd(keys.events, {"k": "end", "d": outcome_json})
        pipe.expire(keys.events, KEEP_S)
        pipe.execute()

    def _add(self, keys: JobKeys, kind: str, data: Any) -> None:
        pipe = self.redis().pipeline(transaction=False)
        pipe.xadd(keys.events, {"k": kind, "d": json.dumps(data)})
        pipe.expire(keys.events, KEEP_S)
        pipe.execute()

    def _log(self, keys: JobKeys, level: int, text: str) -> None:
        self._add(keys, "log", [level, text])

    # -- the worker's heartbeat ----------------------------------------------------------

    def beat(self) -> None:
        """Extend the visibility of the messages this worker holds; mark its queues alive."""
        held = {*worker_state.reserved_requests, *worker_state.active_requests}
        tags = {request.message.delivery_tag for request in held}
        pipe = self.redis().pipeline(transaction=False)
        now = time.time()
        for tag in tags:
            pipe.zadd(UNACKED_INDEX, {tag: now}, xx=True)
        ttl_ms = math.ceil(self.beat_s * 3000)
        for queue in self.queues:
            pipe.set(alive_key(queue), self.node, px=ttl_ms)
        try:
            pipe.execute()
        except RedisError:
            log.warning("worker heartbeat failed; trying again in %gs", self.beat_s, exc_info=True)


class ControlWatcher(threading.Thread):
    """Waits for a ``cancel`` on an attempt's control stream and refreshes its claim."""

    def __init__(self, redis: Redis, keys: JobKeys, on_cancel: Callable[[], None]) -> None:
        super().__init__(name=f"notewell-watch-{keys.key}", daemon=True)
        self.redis = redis
        self.keys = keys
        self.on_cancel = on_cancel
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop soon (within one wait); the thread is not joined."""
        self._stopped.set()

    def run(self) -> None:
        cancelled = False
        while not self._stopped.is_set():
            try:
                reply = self.redis.xread({self.keys.control: "0-0"}, count=1, block=WATCH_BLOCK_MS)
                if not self._stopped.is_set():
                    self.redis.expire(self.keys.claim, CLAIM_TTL_S)
            except RedisError:
                log.warning("cannot read the control stream of %s", self.keys.key, exc_info=True)
                self._stopped.wait(1)
                continue
            if reply and not cancelled and not self._stopped.is_set():
                cancelled = True
                self.on_cancel()


def _cancel(
    loop: asyncio.AbstractEventLoop, job: asyncio.Task[Any], cancel: CrossThreadCancel
) -> None:
    """From the watcher thread: ``ctx.cancelled`` is true at once, then the task is cancelled."""
    cancel.flag.set()

    def in_loop() -> None:
        cancel.set()
        job.cancel()

    loop.call_soon_threadsafe(in_loop)


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"status": "failed", "error": describe_exception(exc)}


def heartbeat_step(runtime: WorkerRuntime) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that calls ``runtime.beat`` at start and every ``beat_s``."""

    class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None

        def start(self, worker: Any) -> None:
            runtime.beat()
            self.tref = worker.timer.call_repeatedly(runtime.beat_s, runtime.beat, priority=10)

        def stop(self, worker: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None

    return Heartbeat


class _NoBackendNotes(logging.Filter):
    """Drops Celery's note that a revoked task cannot be marked in a result backend:
    Notewell has none by design (outcomes travel through Redis streams)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to mark task")


def install(app: Celery, runtime: WorkerRuntime) -> None:
    """Register the step task and the heartbeat on a worker's Celery app."""
    logging.getLogger("celery.worker.control").addFilter(_NoBackendNotes())

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def run_step(task: Any, step: str, inputs: dict[str, Any], info: dict[str, Any]) -> None:
        try:
            runtime.handle(str(task.request.id), step, inputs, info)
        except RedisError as exc:
            # the outcome could not be told: keep the message for a later delivery
            log.warning("Redis failed during %s; giving the message back", task.request.id)
            raise Reject(exc, requeue=True) from exc

    app.steps["worker"].add(heartbeat_step(runtime))
