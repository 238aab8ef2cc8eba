"""What can go wrong while a pipeline runs, each with a stable ``code``.

A step that wants to fail with its own code raises :class:`StepError`; any other
exception is wrapped once in :class:`StepFailed`, which names the step's id and type and
keeps the cause for the record (its traceback is shown to admins only).
"""

from __future__ import annotations

import traceback
from typing import Any

from pydantic import ValidationError

from notewell.kernel.errors import Conflict, NotFound, Unprocessable


class StepError(Exception):
    """Raise from a step to fail it with a stable ``code`` clients can match on.

    ``retryable=False`` tells the runner not to try again even when the step has a
    retry policy (the input can never work).
    """

    def __init__(self, message: str, *, code: str = "step_failed", retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class StepTimeout(StepError):
    """The step ran longer than its ``timeout:``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g}s", code="step_timeout")


class RemoteStepError(Exception):
    """An exception raised in another process (worker pool, Celery), carried back as data."""

    def __init__(
        self,
        type_name: str,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = True,
        remote_traceback: str = "",
        step_error: bool = False,
    ) -> None:
        super().__init__(message)
        self.step_error = step_error
        self.type_name = type_name
        self.message = message
        self.code = code
        self.retryable = retryable
        self.remote_traceback = remote_traceback

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteStepError:
        """Rebuild from :func:`describe_exception`'s output."""
        return cls(
            str(data.get("type") or "Exception"),
            str(data.get("message") or ""),
            code=data.get("code"),
            retryable=bool(data.get("retryable", True)),
            remote_traceback=str(data.get("traceback") or ""),
            step_error=bool(data.get("step_error")),
        )


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception as JSON-ready data, to cross a process boundary."""
    code = getattr(exc, "code", None)
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(getattr(exc, "message", None) or exc),
        "code": code if isinstance(code, str) else None,
        "retryable": bool(getattr(exc, "retryable", True)),
        "step_error": isinstance(exc, StepError),
        "traceback": "".join(traceback.format_exception(exc)),
    }


class StepFailed(Exception):
    """A step of a run failed: the cause, wrapped once with the step's id and type."""

    def __init__(
        self, step_id: str, uses: str, cause: BaseException, *, code: str | None = None
    ) -> None:
        self.step_id = step_id
        self.uses = uses
        self.cause = cause
        cause_code = getattr(cause, "code", None)
        self.code = code or (cause_code if isinstance(cause_code, str) else "step_failed")
        super().__init__(f"step {step_id!r} ({uses}) failed: {cause_text(cause)}")

    @property
    def traceback(self) -> str:
        """The cause's traceback: the remote one for errors carried from a worker."""
        if isinstance(self.cause, RemoteStepError) and self.cause.remote_traceback:
            return self.cause.remote_traceback
        return "".join(traceback.format_exception(self.cause))

    def to_record(self) -> dict[str, Any]:
        """The ``error`` member of a run or step record."""
        return {
            "code": self.code,
            "message": str(self),
            "step_id": self.step_id,
            "type": cause_type(self.cause),
        }


def cause_type(cause: BaseException) -> str:
    if isinstance(cause, RemoteStepError):
        return cause.type_name.rsplit(".", 1)[-1]
    return type(cause).__name__


def cause_text(cause: BaseException) -> str:
    message = getattr(cause, "message", None) or str(cause)
    if isinstance(cause, StepError) or getattr(cause, "step_error", False):
        return str(message)
    return f"{cause_type(cause)}: {message}" if message else cause_type(cause)


class InvalidInputs(Unprocessable):
    """The inputs given to a pipeline do not match its ``inputs:`` (422, nothing recorded)."""

    default_code = "invalid_inputs"


class InvalidPipeline(Unprocessable):
    """The pipeline cannot run: an unknown step type, a cycle, a failed validation (422)."""

    default_code = "invalid_pipeline"


class PipelineNotFound(NotFound):
    """No pipeline of that name is in the catalog (404)."""

    default_code = "pipeline_not_found"


class RunNotFound(NotFound):
    """No run with that id, or none the actor may see (404)."""

    default_code = "run_not_found"


class RunStateConflict(Conflict):
    """The run is not in a state that allows this (cancel a finished run, resume a live one)."""

    default_code = "run_state_conflict"


def describe_invalid(exc: ValidationError, what: str) -> str:
    """A step's invalid ``inputs`` or ``outputs`` in one line: the first five problems."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or what
        parts.append(f"{where}: {error.get('msg', '')}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"invalid {what}: " + "; ".join(parts) + more
