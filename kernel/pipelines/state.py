"""What a run keeps in memory while it runs: each step's state and its log lines."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notewell.kernel.db import utcnow
from notewell.kernel.pipelines.errors import StepFailed
from notewell.kernel.pipelines.records import LOG_CAP_BYTES, StepRunRead, cap_logs
from notewell.kernel.pipelines.spec import StepSpec

log = logging.getLogger("notewell.pipelines")
_STEP_LOGGER = logging.getLogger("notewell.step")


class LogCapture(logging.Handler):
    """Keeps a step's log lines (up to ``LOG_CAP_BYTES``) and passes each on to the
    ``notewell.step`` logger when its level lets it through."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.size = 0
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname} {record.getMessage()}"
        if self.size + len(line) < LOG_CAP_BYTES:
            self.lines.append(line)
            self.size += len(line) + 1
        else:
            self.dropped += 1
        if _STEP_LOGGER.isEnabledFor(record.levelno):
            _STEP_LOGGER.handle(record)

    def text(self) -> str:
        return cap_logs(self.lines, self.dropped)


def step_logger(uses: str, capture: LogCapture) -> logging.Logger:
    """A logger for one step's ``ctx.log`` (not kept in logging's registry)."""
    logger = logging.Logger(f"notewell.step.{uses}", logging.INFO)
    logger.propagate = False
    logger.addHandler(capture)
    return logger


@dataclass(eq=False)
class StepState:
    """One step of a running run."""

    spec: StepSpec
    status: str = "pending"
    executor: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    inputs: Any = None
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    traceback: str | None = None
    capture: LogCapture | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    failure: StepFailed | None = None
    chunks: int = 0
    _clock: float = 0.0

    @property
    def id(self) -> str:
        return self.spec.id

    def begin(self) -> None:
        self.status = "running"
        self.started_at = utcnow()
        self._clock = time.perf_counter()

    def end(self, status: str, failure: StepFailed | None = None) -> None:
        self.status = status
        self.finished_at = utcnow()
        if self.started_at is not None:
            self.duration_ms = round((time.perf_counter() - self._clock) * 1000, 3)
        if failure is not None:
            self.error = failure.to_record()
            self.traceback = failure.traceback

    def row(self, run_id: str) -> dict[str, Any]:
        """The ``kernel_step_run`` row of this step."""
        return {
            "run_id": run_id,
            "step_id": self.id,
            "uses": self.spec.uses,
            "executor": self.executor,
            "status": self.status,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "traceback": self.traceback,
            "logs": self.capture.text() if self.capture else "",
        }

    def read(self, run_id: str) -> StepRunRead:
        return StepRunRead.model_validate(self.row(run_id))

    def event(self, run_id: str) -> dict[str, Any]:
        """The payload of ``run.step_started`` / ``run.step_finished`` (no values)."""
        return {
            "run_id": run_id,
            "step_id": self.id,
            "uses": self.spec.uses,
            "status": self.status,
            "executor": self.executor,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }
