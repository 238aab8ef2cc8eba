"""The Celery executor (server side): a step attempt as a Celery task on a Redis broker.

:meth:`CeleryExecutor.submit` publishes the task ``notewell.run_step`` with the
attempt's key as its task id, to the queue the runner chose (``interactive``,
``batch``, ``gpu`` or a ``resources: {queue: q}`` of the YAML), then follows the
attempt's events stream (:class:`~notewell.kernel.celery_app.JobKeys`) with blocking
reads: chunks go to ``ctx.emit`` and log lines to ``ctx.log`` in the order the step
produced them, and the ``end`` entry carries the outputs, the error or a cancel. Nothing
polls: an idle attempt costs one blocking read every ``idle_check`` seconds.

The attempt has started (``job.started()``) when a worker's ``started`` entry arrives,
so the step's timeout counts from there. A message still queued ``job.queue_timeout``
seconds after it was published fails the attempt with ``queue_timeout``; that is also
the message's Celery ``expires``, so a worker that receives it later drops it.

Cancelling the awaiting task (run cancelled, step timeout, server stopping) adds a
``cancel`` to the attempt's control stream — the worker sets ``ctx.cancelled`` and
cancels the step, and a worker that receives the message later drops it — and revokes
the task; a step still running ``cancel_grace`` seconds later has its process killed
(``revoke(terminate=True)``).

An attempt whose queue has had no live worker, and which no worker holds, for
``orphan_after`` seconds fails: ``worker_lost`` when a worker had started it (it died
and none took over), ``no_worker`` when none ever did. Each idle check is one
``EXISTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from kombu.exceptions import KombuError
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from notewell.kernel.celery_app import (
    KEEP_S,
    TASK_NAME,
    JobKeys,
    alive_key,
    create_celery_app,
    redis_url_of,
)
from notewell.kernel.pipelines.errors import RemoteStepError
from notewell.kernel.pipelines.executors import StepJob, queue_timeout_error
from notewell.kernel.pipelines.step import StepCancelled, StepContext
from notewell.kernel.settings import Settings

log = logging.getLogger("notewell.celery")

KILL_MARGIN_S = 5.0
"""Past ``timeout + cancel_grace + KILL_MARGIN_S`` a worker kills the step's process by
itself (Celery's hard time limit), even when no server is left to revoke it."""


@dataclass
class _Follow:
    """How far the server has read one attempt's events stream."""

    keys: JobKeys
    last: str = "0-0"
    started: bool = False
    ended: bool = False


class CeleryExecutor:
    """An :class:`~notewell.kernel.pipelines.executors.Executor` over Celery workers."""

    name = "celery"

    def __init__(
        self,
        app: Celery,
        redis_url: str,
        *,
        cancel_grace: float = 5.0,
        orphan_after: float = 60.0,
        idle_check: float = 5.0,
    ) -> None:
        self.app = app
        self.redis_url = redis_url
        self.cancel_grace = cancel_grace
        self.orphan_after = orphan_after
        self.idle_check = idle_check
        self._redis: Redis | None = None
        self._chores: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryExecutor:
        """The executor for ``settings``' broker (StartupError unless it is Redis)."""
        return cls(create_celery_app(settings), redis_url_of(settings))

    async def start(self) -> None:
        """Nothing to connect yet: the broker and Redis are reached on first use."""
        return None

    async def stop(self) -> None:
        """Let pending cancels reach the workers (up to the grace), then disconnect."""
        if self._chores:
            await asyncio.wait(set(self._chores), timeout=self.cancel_grace + 1)
        for chore in list(self._chores):
            chore.cancel()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        await asyncio.to_thread(self.app.close)

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = Redis.from_url(
                self.redis_url,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=max(self.idle_check, self.cancel_grace) + 10,
                health_check_interval=30,
            )
        return self._redis

    # -- one attempt -------------------------------------------------------------------

    async def submit(self, job: StepJob, ctx: StepContext) -> BaseModel | dict[str, Any]:
        """Publish the attempt, forward its chunks and log lines, return its outputs."""
        follow = _Follow(JobKeys(job.key))
        try:
            await asyncio.to_thread(self._publish, job)
            outcome = await self._follow(job, ctx, follow)
        except asyncio.CancelledError:
            self._abandon(job, follow)
            raise
        with contextlib.suppress(RedisError):  # read in full; the outcome key stays
            await self._client().delete(follow.keys.events, follow.keys.control)
        return _result(outcome)

    def _publish(self, job: StepJob) -> None:
        options: dict[str, Any] = {}
        if job.queue_timeout is not None:
            options["expires"] = job.queue_timeout  # a message still queued then is dropped
        if job.timeout:
            options["time_limit"] = job.timeout + self.cancel_grace + KILL_MARGIN_S
        self.app.send_task(
            TASK_NAME,
            args=[job.step, job.inputs_json(), job.context_info()],
            task_id=job.key,
            queue=job.queue,
            routing_key=job.queue,
            **options,
        )

    async def _follow(self, job: StepJob, ctx: StepContext, follow: _Follow) -> dict[str, Any]:
        redis, lost_since = self._client(), None
        loop = asyncio.get_running_loop()
        expires = None if job.queue_timeout is None else loop.time() + job.queue_timeout
        while True:
            wait = self.idle_check
            if expires is not None and not follow.started:
                wait = min(wait, expires - loop.time())
                if wait <= 0:
                    self._abandon(job, follow)  # the message is dropped wherever it is
                    raise queue_timeout_error(job, f"Celery queue {job.queue!r}")
            reply: Any = await redis.xread(
                {follow.keys.events: follow.last}, count=256, block=max(1, int(wait * 1000))
            )
            if not reply:
                lost_since = await self._check_alive(job, ctx, follow, lost_since)
                continue
            lost_since = None
            for entry_id, fields in reply[0][1]:
                follow.last = entry_id
                outcome = await _forward(fields, job, ctx, follow)
                if outcome is not None:
                    return outcome

    async def _check_alive(
        self, job: StepJob, ctx: StepContext, follow: _Follow, lost_since: float | None
    ) -> float | None:
        """``None`` while a worker serves the queue or holds the attempt; else since when
        neither is true. Fails the attempt once that lasts ``orphan_after`` seconds."""
        if await self._client().exists(alive_key(job.queue), follow.keys.claim):
            return None
        now = asyncio.get_running_loop().time()
        if lost_since is None:
            ctx.log.warning(
                "no Celery worker serves the queue %r now; waiting up to %gs for one",
                job.queue,
                self.orphan_after,
            )
            return now
        if now - lost_since < self.orphan_after:
            return lost_since
        self._abandon(job, follow)
        raise _lost(job, follow, self.orphan_after)

    # -- stopping an attempt -----------------------------------------------------------

    def _abandon(self, job: StepJob, follow: _Follow) -> None:
        """Tell the workers to drop or stop the attempt, in the background."""
        chore = asyncio.get_running_loop().create_task(self._stop_remote(job, follow))
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    async def _stop_remote(self, job: StepJob, follow: _Follow) -> None:
        try:
            pipe = self._client().pipeline(transaction=False)
            pipe.xadd(follow.keys.control, {"k": "cancel"})
            pipe.expire(follow.keys.control, KEEP_S)
            await pipe.execute()
            await asyncio.to_thread(self.app.control.revoke, job.key)
            ended = follow.ended or await self._ends_within(follow, self.cancel_grace)
            if follow.started and not ended:
                log.warning("step attempt %s ignored its cancel; killing its process", job.key)
                await asyncio.to_thread(
                    self.app.control.revoke, job.key, terminate=True, signal="SIGKILL"
                )
        except (RedisError, KombuError, OSError):
            log.warning("could not cancel step attempt %s on Celery", job.key, exc_info=True)

    async def _ends_within(self, follow: _Follow, seconds: float) -> bool:
        """Whether the attempt's ``end`` arrives within ``seconds`` (a message still
        queued has no process to kill: the worker that receives it drops it)."""
        redis = self._client()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    block_ms = max(1, int(seconds * 1000))
                    reply: Any = await redis.xread(
                        {follow.keys.events: follow.last}, block=block_ms
                    )
                    for entry_id, fields in reply[0][1] if reply else []:
                        follow.last = entry_id
                        follow.started |= fields.get("k") == "started"
                        if fields.get("k") == "end":
                            return True
        return False


async def _forward(
    fields: dict[str, Any], job: StepJob, ctx: StepContext, follow: _Follow
) -> dict[str, Any] | None:
    """Pass one stream entry on; the outcome when it is the ``end``."""
    kind, data = fields.get("k"), json.loads(fields.get("d") or "null")
    if kind == "chunk":
        await ctx.emit(data)
    elif kind == "log":
        ctx.log.log(int(data[0]), "%s", data[1])
    elif kind == "started":
        follow.started = True
        await job.started()
    elif kind == "end":
        follow.ended = True
        outcome: dict[str, Any] = data
        return outcome
    return None


def _result(outcome: dict[str, Any]) -> dict[str, Any]:
    status = outcome.get("status")
    if status == "succeeded":
        outputs: dict[str, Any] = outcome["outputs"]
        return outputs
    if status == "cancelled":
        raise StepCancelled("the step stopped on cancel")
    raise RemoteStepError.from_dict(outcome.get("error") or {})


def _lost(job: StepJob, follow: _Follow, seconds: float) -> RemoteStepError:
    if follow.started:
        return RemoteStepError(
            "WorkerLost",
            f"the Celery worker running the step stopped, and no worker took the step "
            f"over within {seconds:g}s",
            code="worker_lost",
        )
    return RemoteStepError(
        "NoWorker",
        f"no Celery worker served the queue {job.queue!r} for {seconds:g}s; "
        f"start one with `notewell worker --queues {job.queue}`",
        code="no_worker",
        retryable=False,
    )
