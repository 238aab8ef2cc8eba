"""The reaper: runs left ``queued``/``running`` by a process that died end ``failed``.

Every process that executes runs registers a row in ``kernel_runner`` and refreshes its
``heartbeat_at`` every ``interval`` seconds; each run row names its ``owner``. A run is
orphaned when its owner is not alive: the owner's row is gone, its heartbeat is older
than ``stale_after``, or it ran on this host under a process id that no longer exists
(so a restart on the same machine reaps at once, without waiting for staleness).
Other replicas' runs, heartbeating normally, are never touched. Reaping happens on
start-up and on every heartbeat, so a replica that dies is cleaned up by the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from notewell.kernel.db import utcnow
from notewell.kernel.ids import new_id
from notewell.kernel.pipelines.records import Runner
from notewell.kernel.pipelines.store import RunStore, heartbeat_age

log = logging.getLogger("notewell.pipelines.reaper")

ORPHANED = {
    "code": "orphaned",
    "message": "the process running this run stopped before it finished; resume it to go on",
    "step_id": None,
}


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class Reaper:
    """Keeps this process's heartbeat and reaps the runs of dead ones."""

    def __init__(
        self, store: RunStore, *, interval: float = 10.0, stale_after: float = 45.0
    ) -> None:
        self.store = store
        self.interval = interval
        self.stale_after = stale_after
        self.runner_id = new_id()
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register this process, reap what earlier processes left, start heartbeating."""
        await self.store.register_runner(self.runner_id, self.host, self.pid)
        reaped = await self.reap()
        if reaped:
            log.warning("marked %d orphaned run(s) failed", len(reaped), extra={"runs": reaped})
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.store.unregister_runner(self.runner_id)
        except SQLAlchemyError:
            log.warning("could not unregister runner %s", self.runner_id, exc_info=True)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if not await self.store.heartbeat(self.runner_id):
                    await self.store.register_runner(self.runner_id, self.host, self.pid)
                await self.reap()
            except SQLAlchemyError:
                log.warning("heartbeat failed; trying again in %ss", self.interval, exc_info=True)

    def alive(self, runner: Runner, now: datetime) -> bool:
        """Whether ``runner`` may still be running its runs."""
        if runner.id == self.runner_id:
            return True
        if runner.host == self.host and not pid_alive(runner.pid):
            return False
        return heartbeat_age(runner, now) <= self.stale_after

    async def reap(self) -> list[str]:
        """Fail the active runs of dead runners; return their ids."""
        now = utcnow()
        runners = await self.store.runners()
        live = {runner.id for runner in runners if self.alive(runner, now)} | {self.runner_id}
        dead = {runner.id for runner in runners} - live
        return await self.store.reap(live, dead, ORPHANED)
