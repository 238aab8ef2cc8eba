"""What references point at, and whether a value fits the argument it is given to.

Used by ``validate.py``: ``ReferenceTypes.problem`` finds references to unknown
inputs, steps and outputs; ``argument_type_issue`` compares a producer's output
schema with the consumer's input schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notewell.kernel.pipelines.expressions import (
    Expression,
    ExpressionError,
    Node,
)
from notewell.kernel.pipelines.issues import closest, did_you_mean
from notewell.kernel.pipelines.refs import (
    Reference,
    as_reference,
    iter_templates,
    single_expression,
)
from notewell.kernel.pipelines.spec import PipelineSpec, StepSpec
from notewell.kernel.pipelines.step import Step
from notewell.kernel.pipelines.templates import parse_template
from notewell.kernel.pipelines.typecheck import (
    Typed,
    describe,
    fits,
    infer,
    items_of,
    json_types,
    model_schema,
    property_names,
    property_of,
)

Problem = tuple[str, str, str]
"""``(code, message, hint)``."""

_STEP_PARTS = ("outputs", "status")


class ReferenceTypes:
    """Resolves references against the pipeline's inputs and its steps' output models."""

    def __init__(self, spec: PipelineSpec, steps: Mapping[str, type[Step]]) -> None:
        self.spec = spec
        self.step_types: dict[str, type[Step] | None] = {}
        for step in spec.steps:
            self.step_types.setdefault(step.id, steps.get(step.uses))
        self._outputs: dict[str, Typed | None] = {}

    def outputs_of(self, step_id: str) -> Typed | None:
        """The output schema of step ``step_id`` (``None`` when its type is unknown)."""
        if step_id not in self._outputs:
            cls = self.step_types.get(step_id)
            self._outputs[step_id] = model_schema(cls.Outputs) if cls else None
        return self._outputs[step_id]

    def problem(self, ref: Reference) -> Problem | None:
        """What is wrong with ``ref``, or ``None``."""
        return self._resolve(ref)[1]

    def type_of(self, ref: Reference) -> Typed | None:
        """The schema of the value ``ref`` points at (``None``: unknown or any)."""
        typed, problem = self._resolve(ref)
        return None if problem else typed

    def _resolve(self, ref: Reference) -> tuple[Typed | None, Problem | None]:
        if ref.root == "inputs":
            return self._input(ref)
        if not ref.path:
            return None, (
                "bad_output_reference",
                "`steps` alone is not a value",
                "write `steps.<id>.outputs.<field>` or `steps.<id>.status`",
            )
        step_id = str(ref.path[0])
        if step_id not in self.step_types:
            suggestion = did_you_mean(step_id, self.step_types)
            return None, (
                "unknown_step_reference",
                f"`{ref.text}`: there is no step `{step_id}`{suggestion}",
                f"steps: {', '.join(self.step_types)}",
            )
        return self._step_part(ref, step_id)

    def _input(self, ref: Reference) -> tuple[Typed | None, Problem | None]:
        if not ref.path:
            return Typed.simple("object"), None
        name = str(ref.path[0])
        declared = self.spec.inputs.get(name)
        if declared is None:
            suggestion = closest(name, self.spec.inputs)
            return None, (
                "unknown_input",
                f"`{ref.text}`: the pipeline has no input `{name}`"
                + (f" — did you mean `inputs.{suggestion}`?" if suggestion else ""),
                "declare it under `inputs:`" if suggestion is None else "fix the name",
            )
        if len(ref.path) > 1 or declared.type == "any":
            return None, None
        return Typed.simple(declared.type), None

    def _step_part(self, ref: Reference, step_id: str) -> tuple[Typed | None, Problem | None]:
        hint = f"write `steps.{step_id}.outputs.<field>` or `steps.{step_id}.status`"
        if len(ref.path) == 1:
            return None, ("bad_output_reference", f"`{ref.text}` is a step, not a value", hint)
        part = str(ref.path[1])
        if part == "status":
            if len(ref.path) > 2:
                return None, (
                    "bad_output_reference",
                    f"`{ref.text}`: a step's status has no fields",
                    hint,
                )
            return Typed.simple("string"), None
        if part != "outputs":
            return None, (
                "bad_output_reference",
                f"`{ref.text}`: a step has `outputs` and `status`{did_you_mean(part, _STEP_PARTS)}",
                hint,
            )
        return self._output(ref, step_id)

    def _output(self, ref: Reference, step_id: str) -> tuple[Typed | None, Problem | None]:
        typed = self.outputs_of(step_id)
        walked = f"steps.{step_id}.outputs"
        for segment in ref.path[2:]:
            if typed is None:
                return None, None
            if isinstance(segment, int):
                kinds = json_types(typed)
                if kinds is not None and "array" not in kinds and "string" not in kinds:
                    return None, _not_indexable(ref, walked, typed)
                typed, walked = items_of(typed), f"{walked}[{segment}]"
                continue
            found, known = property_of(typed, segment)
            if not known:
                return None, self._unknown_output(ref, step_id, walked, typed, segment)
            typed, walked = found, f"{walked}.{segment}"
        return typed, None

    def _unknown_output(
        self, ref: Reference, step_id: str, walked: str, typed: Typed, name: str
    ) -> Problem:
        names = property_names(typed)
        kinds = json_types(typed) or frozenset()
        if "array" in kinds and "object" not in kinds:
            return _not_indexable(ref, walked, typed)
        owner = f"step `{step_id}`" if walked.endswith(".outputs") else f"`{walked}`"
        return (
            "unknown_output",
            f"`{ref.text}`: {owner} has no output field `{name}`{did_you_mean(name, names)}",
            f"fields: {', '.join(names) or 'none'}",
        )


def _not_indexable(ref: Reference, walked: str, typed: Typed) -> Problem:
    return (
        "bad_output_reference",
        f"`{ref.text}`: `{walked}` is {describe(typed)}",
        "index arrays with a number, e.g. `[0]`; take fields of objects with `.name`",
    )


def _expression_type(expression: Expression, types: ReferenceTypes) -> Typed | None:
    def reference(node: Node) -> tuple[bool, Typed | None]:
        ref = as_reference(node, expression.text)
        return (False, None) if ref is None else (True, types.type_of(ref))

    return infer(expression.tree, reference)


def _produced(value: Any, types: ReferenceTypes) -> tuple[Typed | None, str, str] | None:
    """``(type, how to name it, text to point at)`` of an argument value with references."""
    if isinstance(value, dict | list):
        return Typed.simple("object" if isinstance(value, dict) else "array"), "this value", ""
    if not isinstance(value, str):
        return None
    try:
        parts = parse_template(value)
    except ExpressionError:
        return None  # reported as invalid_expression already
    single = single_expression(parts)
    if single is None:
        return Typed.simple("string"), "", ""
    return _expression_type(single, types), f"`{single.text}`", single.text


def argument_type_issue(
    step: StepSpec, name: str, value: Any, inputs: Typed, types: ReferenceTypes
) -> tuple[str, str, str] | None:
    """``(message, hint, text to point at)`` when ``value`` cannot fit argument ``name``."""
    produced = _produced(value, types)
    if produced is None or not any(True for _ in _templates(value)):
        return None
    producer, source, needle = produced
    consumer, _ = property_of(inputs, name)
    if fits(producer, consumer):
        return None
    target = f"`{step.id}.with.{name}`"
    if not source:
        return (
            f"{target} wants {describe(consumer)}, but text around `${{{{ }}}}` makes a string",
            "write the value as a single `${{ … }}` with nothing around it",
            "",
        )
    message = f"{source} is {describe(producer)}, {target} wants {describe(consumer)}"
    alternatives = [
        other
        for other in property_names(inputs)
        if other != name and fits(producer, property_of(inputs, other)[0])
    ]
    unused = [other for other in alternatives if other not in step.with_]
    if unused:
        message += f" — did you mean `{step.id}.with.{unused[0]}`?"
    wants_text = json_types(consumer) == frozenset({"string"})
    hint = (
        f"turn it into text: `${{{{ json({needle}) }}}}` or `${{{{ join({needle}, ', ') }}}}`"
        if wants_text and needle
        else f"pass a value of type {describe(consumer)}"
    )
    return message, hint, needle


def _templates(value: Any) -> list[str]:
    return [template for _, template in iter_templates(value)]
