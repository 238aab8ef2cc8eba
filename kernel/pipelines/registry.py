"""The step registry: step classes from the ``register_steps`` hook, keyed by ``Step.name``.

Built once in ``create_app`` from the enabled plugins. Two plugins registering the same
name, or a class that does not honour the step contract, stop start-up with a message
naming the plugin(s). A plugin an admin disables later keeps its entries but they are
not found (:meth:`StepRegistry.get` asks the plugin host each time), so disabling a
plugin removes its steps at once, in every process that hears the bus event.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from notewell.kernel.errors import StartupError
from notewell.kernel.pipelines.spec import STEP_TYPE, RetrySpec
from notewell.kernel.pipelines.step import Step
from notewell.kernel.plugins import PluginHost


class UnknownStep(LookupError):
    """No enabled plugin provides a step of that name."""


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One registered step type and the plugin that provides it."""

    name: str
    cls: type[Step]
    plugin: str

    @property
    def heavy(self) -> bool:
        return self.cls.heavy

    @property
    def gpu(self) -> bool:
        return self.cls.gpu

    @property
    def streaming(self) -> bool:
        return self.cls.streaming

    @property
    def idempotent(self) -> bool:
        return self.cls.idempotent

    @property
    def retry(self) -> RetrySpec | None:
        return self.cls.retry

    @property
    def description(self) -> str:
        return inspect.getdoc(self.cls) or ""

    def inputs_schema(self) -> dict[str, Any]:
        return self.cls.Inputs.model_json_schema()

    def outputs_schema(self) -> dict[str, Any]:
        return self.cls.Outputs.model_json_schema()

    def to_public(self) -> dict[str, Any]:
        """The step as the API and the docs show it."""
        return {
            "name": self.name,
            "plugin": self.plugin,
            "description": self.description,
            "heavy": self.heavy,
            "gpu": self.gpu,
            "streaming": self.streaming,
            "idempotent": self.idempotent,
            "retry": self.retry.model_dump() if self.retry else None,
            "inputs": self.inputs_schema(),
            "outputs": self.outputs_schema(),
        }


class StepRegistry(Mapping[str, type[Step]]):
    """Step classes by name; as a mapping it holds the enabled ones (what ``validate`` takes)."""

    def __init__(self, plugins: PluginHost) -> None:
        self.plugins = plugins
        self._steps = collect_steps(plugins)

    def info(self, name: str) -> StepInfo:
        """The step ``name``; raises :class:`UnknownStep` if missing or its plugin is disabled."""
        info = self._steps.get(name)
        if info is None or not self.plugins.is_enabled(info.plugin):
            raise UnknownStep(name)
        return info

    def infos(self) -> list[StepInfo]:
        """Every enabled step, sorted by name."""
        return [self._steps[name] for name in sorted(self)]

    def __getitem__(self, name: str) -> type[Step]:
        try:
            return self.info(name).cls
        except UnknownStep:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return (name for name, info in self._steps.items() if self.plugins.is_enabled(info.plugin))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def collect_steps(plugins: PluginHost) -> dict[str, StepInfo]:
    """Call ``register_steps`` on every enabled plugin; raise StartupError on a bad answer."""
    found: dict[str, StepInfo] = {}
    problems: list[str] = []
    for plugin, result in plugins.call_with_names("register_steps"):
        for cls in result if isinstance(result, list | tuple) else [result]:
            problem = contract_problem(cls)
            if problem:
                problems.append(f"plugin {plugin}: step {cls!r}: {problem}")
                continue
            other = found.get(cls.name)
            if other is not None and other.cls is not cls:
                problems.append(
                    f"step {cls.name!r} is registered by both plugin {other.plugin} "
                    f"and plugin {plugin}; rename one (steps are named <plugin>.<verb_noun>)"
                )
                continue
            found[cls.name] = StepInfo(cls.name, cls, plugin)
    if problems:
        raise StartupError("Invalid pipeline steps:\n  " + "\n  ".join(problems))
    return found


def contract_problem(cls: Any) -> str | None:
    """Why ``cls`` is not a valid step class, or ``None`` when it is."""
    if not (isinstance(cls, type) and issubclass(cls, Step)):
        return "is not a subclass of notewell.kernel.pipelines.Step"
    if not re.match(STEP_TYPE, cls.name or ""):
        return f"name {cls.name!r} must look like <plugin>.<verb_noun>"
    for attribute in ("Inputs", "Outputs"):
        model = getattr(cls, attribute, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return f"{attribute} must be a pydantic model"
    if cls.run is Step.run or not inspect.iscoroutinefunction(cls.run):
        return "must implement `async def run(self, inputs, ctx)`"
    return None
