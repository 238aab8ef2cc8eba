"""The pipeline file format as typed models (YAML → ``PipelineSpec``).

The JSON Schema of these models is the published schema of the format
(``notewell pipeline schema``). Loading a file (``loader.py``) keeps each value's
line and column so that validation (``validate.py``) can point at it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

STEP_ID = r"^[a-z_][a-z0-9_]{0,63}$"
STEP_TYPE = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")

InputType = Literal["string", "integer", "number", "boolean", "object", "array", "any"]
Executor = Literal["inline", "worker", "celery"]


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``2.5``, ``"500ms"``, ``"30s"``, ``"5m"`` or ``"1h"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration (try 30, '30s', '5m' or '500ms')")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InputSpec(_Strict):
    """A typed pipeline input. An input without ``default`` is required."""

    type: InputType = "string"
    description: str = ""
    default: Any = None
    enum: list[Any] | None = None

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class RetrySpec(_Strict):
    """Try a failing step again: ``attempts`` in all, waiting ``backoff`` seconds,
    multiplied by ``factor`` after each failure, at most ``max_backoff``."""

    attempts: int = Field(1, ge=1, le=20)
    backoff: float = Field(1.0, ge=0)
    factor: float = Field(2.0, ge=1)
    max_backoff: float = Field(60.0, ge=0)

    @field_validator("backoff", "max_backoff", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        return min(self.backoff * self.factor ** (failed_attempts - 1), self.max_backoff)


class ResourcesSpec(_Strict):
    """What a step needs from the machine; ``gpu: 1`` routes it to the GPU queue."""

    gpu: int = Field(0, ge=0, le=8)
    queue: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,31}$")


class StepSpec(_Strict):
    """One step of a pipeline."""

    id: str = Field(pattern=STEP_ID)
    uses: str = Field(pattern=STEP_TYPE)
    name: str = ""
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    needs: list[str] = Field(default_factory=list)
    if_: str | None = Field(None, alias="if")
    retry: RetrySpec | None = None
    timeout: float | None = Field(None, gt=0)
    executor: Executor | None = None
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    stream: bool = False
    continue_on_error: bool = False

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("if_", mode="before")
    @classmethod
    def _condition(cls, value: Any) -> Any:
        # `if: false` switches a step off; keep it an expression like any other
        return ("true" if value else "false") if isinstance(value, bool) else value

    @field_validator("needs", mode="before")
    @classmethod
    def _needs(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class PipelineSpec(_Strict):
    """A whole pipeline file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    version: str = "1"
    description: str = ""
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)
    outputs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> str:
        return str(value)

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
