"""Real ``notewell worker`` processes for tests (behind the ``celery_worker`` fixtures).

Each worker is a subprocess (``python -m notewell.kernel.cli worker``) in a session of
its own, so the worker and its pool processes are stopped together, by process group;
a :class:`~notewell.testing.services.Reaper` kills the group if the test process dies
first. Its output goes to a log file, where :meth:`CeleryWorker.wait_ready` looks for
Celery's "ready." line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from notewell.testing.services import Reaper

ALL_QUEUES = "interactive,batch,gpu"
READY_TIMEOUT_S = 180.0
"""How long a worker may take to start (plugins load, Celery connects)."""
STOP_TIMEOUT_S = 30.0


class WorkerNotReady(Exception):
    """The worker exited or did not say it was ready in time; the message ends with its log."""


class CeleryWorker:
    """One ``notewell worker`` subprocess: :meth:`start`, :meth:`kill` (as a crash would),
    :meth:`stop` (a warm shutdown) and :meth:`restart`; :attr:`log` is its output."""

    def __init__(
        self,
        env: Mapping[str, str],
        log: Path,
        *,
        queues: str = ALL_QUEUES,
        concurrency: int = 1,
        visibility_timeout: int = 60,
    ) -> None:
        self.env = dict(env)
        self.log = log
        self.queues = queues
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._reaper: Reaper | None = None
        self._log_from = 0

    @property
    def pid(self) -> int | None:
        """The worker's main process id (its process group), while it runs."""
        return self.process.pid if self.process is not None else None

    def launch(self) -> None:
        """Start the subprocess without waiting for it to be ready."""
        command = [sys.executable, "-m", "notewell.kernel.cli", "worker",
                   "--queues", self.queues, "--concurrency", str(self.concurrency),
                   "--visibility-timeout", str(self.visibility_timeout),
                   "--loglevel", "INFO"]  # fmt: skip
        self._log_from = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._reaper = Reaper(kill=[-self.process.pid])  # the whole group

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Return once the worker consumes its queues; raise :class:`WorkerNotReady`."""
        process = self.process
        assert process is not None, "launch() the worker first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if process.poll() is not None:
                break
            time.sleep(0.1)
        state = "did not start" if process.poll() is None else f"exited ({process.returncode})"
        raise WorkerNotReady(f"the worker {state}:\n{self.output()[-3000:]}")

    def start(self) -> CeleryWorker:
        """Launch the worker and wait until it is ready."""
        self.launch()
        self.wait_ready()
        return self

    def output(self) -> str:
        """What this run of the worker has logged so far."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self._log_from)
            return handle.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._forget()

    def stop(self) -> None:
        """A warm shutdown (SIGTERM to the main process); the group is killed if it hangs
        or leaves processes behind."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(ProcessLookupError):  # pool processes left behind
            os.killpg(process.pid, signal.SIGKILL)
        self._forget()

    def restart(self) -> CeleryWorker:
        """Stop the worker and start it again (a new process, the same log)."""
        self.stop()
        return self.start()

    def _forget(self) -> None:
        if self._reaper is not None:
            self._reaper.done()
            self._reaper = None


class CeleryWorkers:
    """Starts workers against one broker (each with its own log in ``folder``) and stops
    every one of them at the end of the test."""

    def __init__(self, broker_url: str, env: Mapping[str, str], folder: Path) -> None:
        self.broker_url = broker_url
        self.env = dict(env)
        self.folder = folder
        self.started: list[CeleryWorker] = []

    def start(
        self,
        queues: str = ALL_QUEUES,
        concurrency: int = 1,
        *,
        visibility_timeout: int = 60,
    ) -> CeleryWorker:
        """A ready worker taking steps from ``queues`` with ``concurrency`` processes.

        It blocks until the worker is ready (seconds); from async code, call it with
        ``await asyncio.to_thread(celery_workers.start, ...)``.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        worker = CeleryWorker(
            self.env,
            self.folder / f"worker-{len(self.started)}.log",
            queues=queues,
            concurrency=concurrency,
            visibility_timeout=visibility_timeout,
        )
        self.started.append(worker)
        return worker.start()

    def stop_all(self) -> None:
        """Stop every worker started here."""
        for worker in self.started:
            worker.stop()


def worker_env(
    broker_url: str, data_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a test worker: this process's, without its ``NOTEWELL_*``
    variables, plus the broker, a data folder, console logs, a test secret and ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEWELL_")}
    env.update(
        NOTEWELL_BROKER_URL=broker_url,
        NOTEWELL_DATA_DIR=str(data_dir),
        NOTEWELL_LOG_FORMAT="console",
        NOTEWELL_SECRET_KEY="test-secret-key-not-for-production",
    )
    env.update(extra or {})
    return env
