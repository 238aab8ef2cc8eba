"""A pipeline made ready to run: its step classes resolved and its dependency graph."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from notewell.kernel.pipelines import refs
from notewell.kernel.pipelines.errors import InvalidPipeline
from notewell.kernel.pipelines.registry import StepRegistry, UnknownStep
from notewell.kernel.pipelines.spec import PipelineSpec
from notewell.kernel.pipelines.step import Step

K = TypeVar("K")
V = TypeVar("V")


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


CACHE_SIZE = 512
"""Pipeline versions whose plan and validation each process keeps."""


def remember(cache: dict[K, V], key: K, value: V) -> V:
    """Store ``value``, dropping the oldest entry past ``CACHE_SIZE`` (pipelines built in
    code may differ on every run)."""
    cache[key] = value
    if len(cache) > CACHE_SIZE:
        del cache[next(iter(cache))]
    return value


def spec_json(spec: PipelineSpec) -> dict[str, Any]:
    """The pipeline as JSON, as written (unset fields left out, so it loads back the same)."""
    return spec.model_dump(mode="json", by_alias=True, exclude_unset=True)


def spec_hash(spec: PipelineSpec) -> str:
    """A content hash for a pipeline built in code (files use the hash of their bytes)."""
    text = json.dumps(spec_json(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
