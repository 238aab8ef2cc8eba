"""pydantic's validation errors for ``PipelineSpec`` as located ``schema`` issues."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from notewell.kernel.pipelines.issues import Issue, did_you_mean
from notewell.kernel.pipelines.spec import PipelineSpec

if TYPE_CHECKING:
    from notewell.kernel.pipelines.loader import Positions

_PATTERN_HINTS = {
    "name": "a pipeline name is lowercase letters, digits, `-` and `_`, starting with a "
    "letter, e.g. `rag-ingest`",
    "id": "a step id is lowercase letters, digits and `_` (at most 64), starting with a "
    "letter or `_`, e.g. `retrieve`",
    "uses": "name a registered step type as `<plugin>.<step>`, e.g. `core.template`",
    "queue": "a queue name is lowercase letters, digits, `-` and `_`",
}

_NOUNS = {"name": "pipeline name", "id": "step id", "uses": "step type", "queue": "queue name"}

_MISSING_HINTS = {
    "name": "add `name: my-pipeline` at the top",
    "steps": "add `steps:` with at least one step",
    "id": "give the step an `id:`, e.g. `id: answer`",
    "uses": "say which step type runs, e.g. `uses: core.template`",
}


def schema_issues(data: Any, positions: Positions) -> list[Issue]:
    """Every way ``data`` does not fit ``PipelineSpec``, located in the file."""
    if not isinstance(data, dict):
        return [
            Issue(
                "schema",
                "a pipeline file is a mapping with `name:` and `steps:`",
                positions.locate(),
                "start the file with `name: my-pipeline`",
            )
        ]
    try:
        PipelineSpec.model_validate(data)
    except ValidationError as exc:
        return [_issue(error, positions) for error in exc.errors()]
    return []


def _issue(error: ErrorDetails, positions: Positions) -> Issue:
    loc = tuple(error["loc"])
    kind = error["type"]
    field = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        known = _keys_at(loc[:-1])
        return Issue(
            "schema",
            f"unknown key `{field}` in {_where(loc[:-1])}{did_you_mean(field, known)}",
            positions.locate_key(*loc),
            f"allowed keys: {', '.join(known)}" if known else "remove it",
        )
    if kind == "missing":
        return Issue(
            "schema",
            f"{_where(loc[:-1])} needs `{field}`",
            positions.locate(*loc[:-1]),
            _MISSING_HINTS.get(field, f"add `{field}:`"),
        )
    message = error["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = f"{error['input']!r} is not a valid {_NOUNS.get(field, field)}"
    return Issue(
        "schema",
        f"`{_where(loc)}`: {message}",
        positions.locate(*loc),
        _PATTERN_HINTS.get(field, "") if kind == "string_pattern_mismatch" else _hint(kind),
    )


def _hint(kind: str) -> str:
    expected = {
        "dict_type": "write a mapping (`key: value` lines)",
        "model_type": "write a mapping (`key: value` lines)",
        "list_type": "write a list (`- item` lines)",
        "string_type": "write a string (quote it if needed)",
        "too_short": "add at least one item",
    }
    return expected.get(kind, "see `notewell pipeline schema` for the format")


def _where(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "the pipeline"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the format allows in the mapping at ``loc`` ([] if it is free-form)."""
    annotation: Any = PipelineSpec
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _field_type(annotation, str(part))
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


def _field_type(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """``X`` for ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation
