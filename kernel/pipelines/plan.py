"""A pipeline made ready to run: its step classes resolved and its dependency graph."""

from __future__ import annotations

from dataclasses import dataclass

from notewell.kernel.pipelines import refs
from notewell.kernel.pipelines.errors import InvalidPipeline
from notewell.kernel.pipelines.registry import StepRegistry, UnknownStep
from notewell.kernel.pipelines.spec import PipelineSpec
from notewell.kernel.pipelines.step import Step


@dataclass(frozen=True)
class Plan:
    """A pipeline made ready to run: its step classes and its dependency graph."""

    spec: PipelineSpec
    classes: dict[str, type[Step]]
    needs: dict[str, set[str]]
    dependents: dict[str, list[str]]


def build_plan(spec: PipelineSpec, registry: StepRegistry) -> Plan:
    """Resolve step types and order; raise :class:`InvalidPipeline` listing every problem."""
    problems: list[dict[str, str]] = []
    classes: dict[str, type[Step]] = {}
    for step in spec.steps:
        try:
            classes[step.uses] = registry.info(step.uses).cls
        except UnknownStep:
            problems.append(
                {
                    "code": "unknown_step",
                    "step_id": step.id,
                    "message": f"no enabled plugin provides the step {step.uses!r}",
                }
            )
    needs = refs.step_dependencies(spec)
    dependents: dict[str, list[str]] = {step.id: [] for step in spec.steps}
    for step_id, required in needs.items():
        for other in required:
            dependents[other].append(step_id)
    cyclic = _cyclic(needs, dependents)
    if cyclic:
        problems.append(
            {
                "code": "cycle",
                "step_id": cyclic[0],
                "message": f"steps depend on each other: {', '.join(cyclic)}",
            }
        )
    if problems:
        listed = "; ".join(p["message"] for p in problems)
        raise InvalidPipeline(f"{spec.name} cannot run: {listed}.", errors=problems)
    return Plan(spec, classes, needs, dependents)


def _cyclic(needs: dict[str, set[str]], dependents: dict[str, list[str]]) -> list[str]:
    """Steps on or behind a cycle (Kahn's algorithm leaves them over), in file order."""
    waiting = {step_id: len(required) for step_id, required in needs.items()}
    ready = [step_id for step_id, count in waiting.items() if count == 0]
    while ready:
        for other in dependents[ready.pop()]:
            waiting[other] -= 1
            if waiting[other] == 0:
                ready.append(other)
    return [step_id for step_id, count in waiting.items() if count > 0]
