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


def _schema(replacement: dict[str, Any]) -> Any:
    """A ``json_schema_extra`` that publishes ``replacement`` (keeping the description):
    YAML accepts more than the Python type says (``"30s"`` for seconds, one ``needs`` id)."""

    def apply(schema: dict[str, Any]) -> None:
        description = schema.get("description")
        schema.clear()
        schema.update(replacement)
        if description:
            schema["description"] = description

    return apply


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": _DURATION.pattern},
    ]
}
_NULLABLE_DURATION_SCHEMA = {"anyOf": [*_DURATION_SCHEMA["anyOf"], {"type": "null"}]}


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

    type: InputType = Field("string", description="The JSON type of the value.")
    description: str = Field("", description="What the input is for (shown in forms).")
    default: Any = Field(None, description="The value when none is given; makes it optional.")
    enum: list[Any] | None = Field(None, description="The only values allowed.")

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class RetrySpec(_Strict):
    """Try a failing step again: ``attempts`` in all, waiting ``backoff`` seconds,
    multiplied by ``factor`` after each failure, at most ``max_backoff``."""

    attempts: int = Field(1, ge=1, le=20, description="Tries in all, the first included.")
    backoff: float = Field(
        1.0,
        ge=0,
        description="Seconds before the second try (e.g. 2, '500ms', '1m').",
        json_schema_extra=_schema(_DURATION_SCHEMA),
    )
    factor: float = Field(2.0, ge=1, description="The wait is multiplied by this after each try.")
    max_backoff: float = Field(
        60.0,
        ge=0,
        description="The longest wait between tries.",
        json_schema_extra=_schema(_DURATION_SCHEMA),
    )

    @field_validator("backoff", "max_backoff", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        return min(self.backoff * self.factor ** (failed_attempts - 1), self.max_backoff)


class ResourcesSpec(_Strict):
    """What a step needs from the machine; ``gpu: 1`` routes it to the GPU queue."""

    gpu: int = Field(0, ge=0, le=8, description="GPUs the step needs; > 0 uses the GPU queue.")
    queue: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="A Celery queue to run on."
    )


class StepSpec(_Strict):
    """One step of a pipeline."""

    id: str = Field(
        pattern=STEP_ID, description="Unique in the pipeline; `steps.<id>` refers to it."
    )
    uses: str = Field(pattern=STEP_TYPE, description="The registered step type, `<plugin>.<step>`.")
    name: str = Field("", description="A label for displays; the id when empty.")
    with_: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="The step's arguments; values may contain `${{ … }}` expressions.",
    )
    needs: list[str] = Field(
        default_factory=list,
        description="Steps to finish first, beyond those this step refers to.",
        json_schema_extra=_schema(
            {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
        ),
    )
    if_: str | None = Field(
        None,
        alias="if",
        description="Run the step only when this expression is true.",
        json_schema_extra=_schema(
            {"anyOf": [{"type": "string"}, {"type": "boolean"}, {"type": "null"}]}
        ),
    )
    retry: RetrySpec | None = Field(None, description="Try again when the step fails.")
    timeout: float | None = Field(
        None,
        gt=0,
        description="Fail the attempt after this long (e.g. 30, '30s', '5m').",
        json_schema_extra=_schema(_NULLABLE_DURATION_SCHEMA),
    )
    executor: Executor | None = Field(
        None, description="Where it runs; by default inline, or worker for heavy steps."
    )
    resources: ResourcesSpec = Field(
        default_factory=lambda: ResourcesSpec.model_validate({}),
        description="What the step needs from the machine.",
    )
    stream: bool = Field(False, description="Publish the step's chunks to watchers as it runs.")
    continue_on_error: bool = Field(
        False, description="When the step fails, carry on; later steps see its status."
    )

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

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="How runs and the API name it."
    )
    version: str = Field(
        "1",
        description="Recorded with each run.",
        json_schema_extra=_schema({"anyOf": [{"type": "string"}, {"type": "number"}]}),
    )
    description: str = Field("", description="What the pipeline does.")
    inputs: dict[str, InputSpec] = Field(
        default_factory=dict, description="Typed inputs; `${{ inputs.<name> }}` refers to one."
    )
    steps: list[StepSpec] = Field(min_length=1, description="The steps, in any order.")
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="The run's result; values may contain `${{ … }}`."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> str:
        return str(value)

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def pipeline_json_schema() -> dict[str, Any]:
    """The published JSON Schema of pipeline files (``notewell pipeline schema``)."""
    schema = PipelineSpec.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Notewell pipeline",
        **{key: value for key, value in schema.items() if key != "title"},
    }
