"""Runs are records: the ``kernel_run`` and ``kernel_step_run`` tables and their read models.

A run row is inserted when the run starts and updated once when it ends; step rows are
inserted when each step ends, in batches (see ``store.py``). Values bigger than
``VALUE_CAP_BYTES`` once serialised (inputs or outputs) are kept in ``kernel_run_blob``
and the row holds a reference, ``{"$blob": "<id>", "bytes": <size>}``.
Tracebacks are stored for admins; read models drop them for everyone else.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notewell.kernel.db import Model, UTCDateTime, utcnow
from notewell.kernel.ids import new_id

VALUE_CAP_BYTES = 256 * 1024
"""Inputs and outputs larger than this (as JSON) are stored by reference."""

LOG_CAP_BYTES = 32 * 1024
"""Log text kept per step; later lines are counted, not kept."""

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal["queued", "running", "succeeded", "failed", "skipped", "cancelled", "reused"]
"""``queued``: handed to an executor, waiting for a worker (seen while the run is live)."""
ACTIVE: tuple[str, ...] = ("queued", "running")
FINAL: tuple[str, ...] = ("succeeded", "failed", "cancelled")


class Run(Model):
    """One execution of a pipeline."""

    __tablename__ = "kernel_run"
    __table_args__ = (Index("ix_kernel_run_actor_id_id", "actor_id", "id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    pipeline: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    inputs: Mapped[Any] = mapped_column(JSON)
    outputs: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    traceback: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    resumed_from: Mapped[str | None] = mapped_column(
        String(26), ForeignKey("kernel_run.id", ondelete="SET NULL")
    )
    owner: Mapped[str | None] = mapped_column(String(26), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class StepRun(Model):
    """One step of one run, written when the step ends."""

    __tablename__ = "kernel_step_run"

    run_id: Mapped[str] = mapped_column(
        String(26), ForeignKey("kernel_run.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uses: Mapped[str] = mapped_column(String(100))
    executor: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    inputs: Mapped[Any | None] = mapped_column(JSON)
    outputs: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    traceback: Mapped[str | None] = mapped_column(Text)
    logs: Mapped[str] = mapped_column(Text, default="")


class RunBlob(Model):
    """A value too big for its row: a run's or a step's inputs or outputs, as JSON text."""

    __tablename__ = "kernel_run_blob"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(
        String(26), ForeignKey("kernel_run.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PipelineVersion(Model):
    """The exact definition a run used (by content hash), so runs can be resumed and replayed."""

    __tablename__ = "kernel_pipeline_version"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Runner(Model):
    """A live process that executes runs; its heartbeat tells the reaper it is alive."""

    __tablename__ = "kernel_runner"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- values too big for a row -------------------------------------------------------------


def cap_value(
    value: Any, run_id: str, blobs: list[dict[str, Any]], cap: int = VALUE_CAP_BYTES
) -> Any:
    """``value`` itself, or a reference when its JSON is over ``cap`` bytes.

    The blob row to insert is appended to ``blobs``.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, separators=(",", ":"), default=str)
    size = len(text.encode())
    if size <= cap:
        return value
    blob_id = new_id()
    blobs.append(
        {"id": blob_id, "run_id": run_id, "data": text, "size": size, "created_at": utcnow()}
    )
    return {"$blob": blob_id, "bytes": size}


def blob_id_of(value: Any) -> str | None:
    """The blob id if ``value`` is a reference made by :func:`cap_value`."""
    if isinstance(value, dict) and set(value) == {"$blob", "bytes"}:
        return str(value["$blob"])
    return None


def cap_logs(lines: list[str], dropped: int = 0, cap: int = LOG_CAP_BYTES) -> str:
    """Join log lines, keeping the first ``cap`` bytes and saying how many were left out."""
    text = "\n".join(lines)
    if len(text.encode()) > cap:
        text = text.encode()[:cap].decode(errors="ignore")
        dropped = dropped or 1
    if dropped:
        text += f"\n… {dropped} more log line(s) not kept"
    return text


# -- read models ---------------------------------------------------------------------------


class StepRunRead(BaseModel):
    """A step record as the API, the hooks and the CLI see it."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    step_id: str
    uses: str
    executor: str | None = None
    status: str
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    inputs: Any = None
    outputs: Any = None
    error: dict[str, Any] | None = None
    traceback: str | None = None
    logs: str = ""


class RunSummary(BaseModel):
    """A run without its values, for listings."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    pipeline: str
    version: str
    status: str
    error: dict[str, Any] | None = None
    actor_id: str | None = None
    resumed_from: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None


class RunRead(RunSummary):
    """A whole run record; ``steps`` is filled where asked for."""

    content_hash: str
    inputs: Any = None
    outputs: Any = None
    traceback: str | None = None
    actor: dict[str, Any] = {}
    steps: list[StepRunRead] | None = None

    def for_viewer(self, is_admin: bool) -> RunRead:
        """This record as a viewer may see it: tracebacks for admins only."""
        if is_admin:
            return self
        steps = None
        if self.steps is not None:
            steps = [step.model_copy(update={"traceback": None}) for step in self.steps]
        return self.model_copy(update={"traceback": None, "steps": steps})
