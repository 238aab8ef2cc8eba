"""Validation against the step registry: every problem at once, each located and with a fix.

``validate(loaded, steps)`` runs after ``load_pipeline`` (which already reported YAML
and format errors). The codes are stable; docs/pipelines.md explains each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from notewell.kernel.pipelines.expressions import OPEN, ExpressionError
from notewell.kernel.pipelines.graph import find_cycles
from notewell.kernel.pipelines.issues import Issue, Location, did_you_mean, sort_issues
from notewell.kernel.pipelines.loader import LoadedPipeline, PipelineLoadError, load_pipeline
from notewell.kernel.pipelines.refs import (
    Reference,
    condition_expression,
    find_valid_references,
    iter_templates,
    references_in,
    step_dependencies,
)
from notewell.kernel.pipelines.spec import StepSpec
from notewell.kernel.pipelines.step import Step
from notewell.kernel.pipelines.templates import expressions_in
from notewell.kernel.pipelines.typecheck import Typed, fits, model_schema
from notewell.kernel.pipelines.validate_types import ReferenceTypes, argument_type_issue

__all__ = ["Issue", "validate", "validate_file"]

PathKey = tuple[str | int, ...]


def validate(loaded: LoadedPipeline, steps: Mapping[str, type[Step]]) -> list[Issue]:
    """Every problem of a loaded pipeline against the registered ``steps``, in file order."""
    return sort_issues(_Checker(loaded, steps).run())


def validate_file(
    source: str | Path, steps: Mapping[str, type[Step]], *, text: str | None = None
) -> tuple[LoadedPipeline | None, list[Issue]]:
    """Load and validate a file: ``(loaded, issues)``; ``loaded`` is ``None`` when the
    file could not be loaded at all."""
    try:
        loaded = load_pipeline(source, text=text)
    except PipelineLoadError as exc:
        return None, exc.issues
    return loaded, validate(loaded, steps)


class _Checker:
    def __init__(self, loaded: LoadedPipeline, steps: Mapping[str, type[Step]]) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.steps = steps
        self.index: dict[str, int] = {}
        for position, step in enumerate(self.spec.steps):
            self.index.setdefault(step.id, position)
        self.types = ReferenceTypes(self.spec, steps)
        self.issues: list[Issue] = []

    def add(self, code: str, message: str, where: Location, hint: str = "") -> None:
        self.issues.append(Issue(code, message, where, hint))

    def run(self) -> list[Issue]:
        self.check_inputs()
        for position, step in enumerate(self.spec.steps):
            self.check_step(position, step)
        self.check_templates(self.spec.outputs, ("outputs",))
        self.check_cycles()
        return self.issues

    # -- inputs and steps -------------------------------------------------------------

    def check_inputs(self) -> None:
        for name, declared in self.spec.inputs.items():
            if declared.required or declared.default is None:
                continue
            where = self.loaded.locate("inputs", name, "default")
            if declared.type != "any" and not fits(
                Typed.of(_literal_schema(declared.default)), Typed.simple(declared.type)
            ):
                self.add(
                    "type_mismatch",
                    f"input `{name}` is {declared.type}, but its default is "
                    f"{_literal_schema(declared.default)['type']}",
                    where,
                    f"give a default of type {declared.type}, or change `type:`",
                )
            if declared.enum is not None and declared.default not in declared.enum:
                self.add(
                    "schema",
                    f"the default of input `{name}` is not one of its `enum` values",
                    where,
                    f"use one of: {', '.join(map(str, declared.enum))}",
                )

    def check_step(self, position: int, step: StepSpec) -> None:
        if self.index[step.id] != position:
            self.add(
                "duplicate_step_id",
                f"step id `{step.id}` is already used by step {self.index[step.id] + 1}",
                self.loaded.locate("steps", position, "id"),
                "give every step its own `id`",
            )
        for number, need in enumerate(step.needs):
            if need not in self.index:
                self.add(
                    "unknown_step_reference",
                    f"`needs` names no step `{need}`{did_you_mean(need, self.index)}",
                    self.loaded.locate("steps", position, "needs", number),
                    f"steps: {', '.join(self.index)}",
                )
        self.check_templates(step.with_, ("steps", position, "with"))
        self.check_condition(position, step)
        cls = self.steps.get(step.uses)
        if cls is None:
            self.add(
                "unknown_step_type",
                f"no step type `{step.uses}` is registered{did_you_mean(step.uses, self.steps)}",
                self.loaded.locate("steps", position, "uses"),
                "is the plugin that provides it installed and enabled? (`notewell plugins list`)",
            )
        else:
            self.check_arguments(position, step, cls)

    # -- expressions ------------------------------------------------------------------

    def check_templates(self, value: Any, path: PathKey) -> None:
        for where, template in iter_templates(value, path):
            for part in expressions_in(template):
                if isinstance(part, ExpressionError):
                    self.expression_issue(part, where)
                else:
                    self.check_references(references_in(part), where)

    def check_condition(self, position: int, step: StepSpec) -> None:
        if step.if_ is None:
            return
        path: PathKey = ("steps", position, "if")
        try:
            expression = condition_expression(step.if_)
        except ExpressionError as exc:
            self.expression_issue(exc, path)
            return
        self.check_references(references_in(expression), path)

    def expression_issue(self, exc: ExpressionError, path: PathKey) -> None:
        where = self.loaded.locate_text(path, exc.expression or OPEN)
        self.add(exc.code, exc.message, where, exc.hint)

    def check_references(self, references: list[Reference], path: PathKey) -> None:
        for ref in references:
            problem = self.types.problem(ref)
            if problem is not None:
                code, message, hint = problem
                self.add(code, message, self.loaded.locate_text(path, ref.text), hint)

    # -- arguments --------------------------------------------------------------------

    def check_arguments(self, position: int, step: StepSpec, cls: type[Step]) -> None:
        inputs = model_schema(cls.Inputs)
        if inputs is None:
            return  # a field without a JSON Schema: the step checks its inputs at run time
        schema = inputs.resolved()
        properties: dict[str, Any] = schema.get("properties", {})
        # YAML may name a field by its alias (as the schema does) or, if allowed, its name
        known = {*properties, *cls.Inputs.model_fields}
        open_model = cls.Inputs.model_config.get("extra") == "allow"
        for name in schema.get("required", []):
            if name not in step.with_:
                self.add(
                    "missing_argument",
                    f"step `{step.id}` (`{step.uses}`) needs the argument `{name}`",
                    self.loaded.locate("steps", position, "with"),
                    f"add `{name}:` under `with:`",
                )
        for name, value in step.with_.items():
            path: PathKey = ("steps", position, "with", name)
            if name not in known:
                if not open_model:
                    self.add(
                        "unknown_argument",
                        f"`{step.uses}` has no argument `{name}`{did_you_mean(name, properties)}",
                        self.loaded.locate_key(*path),
                        f"its arguments: {', '.join(properties) or 'none'}",
                    )
                continue
            issue = argument_type_issue(step, name, value, inputs, self.types)
            if issue is not None:
                message, hint, needle = issue
                where = self.loaded.locate_text(path, needle) if needle else None
                self.add("type_mismatch", message, where or self.loaded.locate(*path), hint)
        self.check_literals(position, step, cls, properties)

    def check_literals(
        self, position: int, step: StepSpec, cls: type[Step], properties: Mapping[str, Any]
    ) -> None:
        """Arguments without references are checked by the step's own model."""
        literals = {
            name: value
            for name, value in step.with_.items()
            if name in properties and not any(True for _ in iter_templates(value))
        }
        try:
            cls.Inputs.model_validate(literals)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                if error["type"] == "missing" or not loc or loc[0] not in literals:
                    continue
                self.add(
                    "type_mismatch",
                    f"`{step.id}.with.{'.'.join(map(str, loc))}`: {error['msg']}",
                    self.loaded.locate("steps", position, "with", *loc),
                    f"see the arguments of `{step.uses}`",
                )

    # -- cycles -----------------------------------------------------------------------

    def check_cycles(self) -> None:
        graph = step_dependencies(_first_of_each(self.spec), skip_invalid=True)
        for cycle in find_cycles(graph):
            first = cycle[0]
            if len(cycle) == 2:
                message = f"step `{first}` depends on itself"
                hint = "a step cannot use its own outputs or need itself"
            else:
                message = "steps depend on each other in a cycle: " + " → ".join(
                    f"`{sid}`" for sid in cycle
                )
                hint = "remove one of these references or `needs` entries"
            self.add("cycle", message, self.dependency_location(first, cycle[1]), hint)

    def dependency_location(self, step_id: str, target: str) -> Location:
        position = self.index[step_id]
        step = self.spec.steps[position]
        if target in step.needs:
            return self.loaded.locate("steps", position, "needs", step.needs.index(target))
        for path, template in iter_templates(step.with_, ("steps", position, "with")):
            for ref in find_valid_references(template):
                if ref.step_id == target:
                    return self.loaded.locate_text(path, ref.text)
        condition = step.if_ or ""
        for ref in _safe_references(lambda: references_in(condition_expression(condition))):
            if ref.step_id == target:
                return self.loaded.locate_text(("steps", position, "if"), ref.text)
        return self.loaded.locate("steps", position, "id")


def _safe_references(find: Callable[[], list[Reference]]) -> list[Reference]:
    try:
        return find()
    except ExpressionError:
        return []


def _first_of_each(spec: Any) -> Any:
    """The spec with later duplicates of a step id dropped (they are reported already)."""
    seen: set[str] = set()
    kept = [s for s in spec.steps if not (s.id in seen or seen.add(s.id))]  # type: ignore[func-returns-value]
    return spec.model_copy(update={"steps": kept})


def _literal_schema(value: Any) -> dict[str, Any]:
    from notewell.kernel.pipelines.functions import type_name

    return {"type": type_name(value)}
