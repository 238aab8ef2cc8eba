"""A pipeline's ``inputs:`` applied to the values a caller gives: defaults, types, enums."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from notewell.kernel.pipelines.errors import InvalidInputs
from notewell.kernel.pipelines.spec import InputSpec, PipelineSpec

_CHECKS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "string": (str, "a string"),
    "integer": (int, "an integer"),
    "number": ((int, float), "a number"),
    "boolean": (bool, "true or false"),
    "object": (dict, "an object"),
    "array": (list, "an array"),
}


def type_problem(spec: InputSpec, value: Any) -> str | None:
    """Why ``value`` does not fit ``spec``, or ``None``."""
    if spec.type != "any":
        kind, wanted = _CHECKS[spec.type]
        wrong_bool = isinstance(value, bool) and spec.type != "boolean"
        if wrong_bool or not isinstance(value, kind):
            return f"must be {wanted}, got {type(value).__name__}"
    if spec.enum is not None and value not in spec.enum:
        return f"must be one of {', '.join(map(repr, spec.enum))}"
    return None


def resolve_inputs(spec: PipelineSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's inputs: ``given`` checked against ``spec.inputs``, defaults filled in.

    Raises :class:`InvalidInputs` (422) listing every problem at once.
    """
    given = dict(given or {})
    problems: list[dict[str, str]] = []
    for name in sorted(set(given) - set(spec.inputs)):
        close = [known for known in spec.inputs if known.lower() == name.lower()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append({"field": name, "message": f"is not an input of {spec.name}{hint}"})
    resolved: dict[str, Any] = {}
    for name, input_spec in spec.inputs.items():
        if name not in given:
            if input_spec.required:
                problems.append({"field": name, "message": "is required"})
            else:
                resolved[name] = input_spec.default
            continue
        problem = type_problem(input_spec, given[name])
        if problem:
            problems.append({"field": name, "message": problem})
        resolved[name] = given[name]
    if problems:
        listed = "; ".join(f"{p['field']} {p['message']}" for p in problems)
        raise InvalidInputs(f"Invalid inputs for {spec.name}: {listed}.", errors=problems)
    return resolved


def parse_cli_value(spec: InputSpec | None, text: str) -> Any:
    """A ``--input k=v`` value: kept as text for string inputs, else read as JSON if it is."""
    if spec is not None and spec.type == "string":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
