"""Step types for the pipeline engine's tests (module level, so worker processes can import
them), a plugin that registers them and records the run hooks, and the test actors.

(Test modules import from here, never from ``conftest``: several conftest modules share
that name, and which one ``import conftest`` finds depends on collection order.)"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any, ClassVar

from pydantic import BaseModel

from notewell.kernel import hookimpl
from notewell.kernel.actor import Actor
from notewell.kernel.events import Event
from notewell.kernel.pipelines import (
    PipelineSpec,
    RetrySpec,
    Step,
    StepContext,
    StepError,
)

ALICE = Actor(id="alice", kind="user", name="alice", roles=frozenset({"user"}))
BOB = Actor(id="bob", kind="user", name="bob", roles=frozenset({"user"}))
ROOT = Actor(id="root", kind="user", name="root", roles=frozenset({"admin"}))


class Echo(Step):
    """Return the text it is given."""

    name = "test.echo"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        return self.Outputs(text=inputs.text)


class Add(Step):
    """Add two integers; counts its calls per ``(a, b)`` so tests can see reuse."""

    name = "test.add"
    calls: ClassVar[Counter[tuple[int, int]]] = Counter()

    class Inputs(BaseModel):
        a: int
        b: int = 0

    class Outputs(BaseModel):
        sum: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        Add.calls[(inputs.a, inputs.b)] += 1
        return self.Outputs(sum=inputs.a + inputs.b)


class Rendezvous(Step):
    """Wait until ``expect`` rendezvous steps of the run have started (proves concurrency)."""

    name = "test.rendezvous"
    arrived: ClassVar[dict[str, int]] = {}
    events: ClassVar[dict[str, asyncio.Event]] = {}

    class Inputs(BaseModel):
        expect: int

    class Outputs(BaseModel):
        met: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        count = Rendezvous.arrived[ctx.run_id] = Rendezvous.arrived.get(ctx.run_id, 0) + 1
        event = Rendezvous.events.setdefault(ctx.run_id, asyncio.Event())
        if count >= inputs.expect:
            event.set()
        await event.wait()
        return self.Outputs(met=count)


class Flaky(Step):
    """Fail the first ``failures`` calls for ``key``, then succeed. Retries 3 times by default."""

    name = "test.flaky"
    retry = RetrySpec(attempts=3, backoff=0)
    calls: ClassVar[Counter[str]] = Counter()

    class Inputs(BaseModel):
        key: str
        failures: int = 1

    class Outputs(BaseModel):
        calls: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        Flaky.calls[inputs.key] += 1
        ctx.log.info("call %d of %s (attempt %d)", Flaky.calls[inputs.key], inputs.key, ctx.attempt)
        if Flaky.calls[inputs.key] <= inputs.failures:
            raise ConnectionError(f"flaked on call {Flaky.calls[inputs.key]}")
        return self.Outputs(calls=Flaky.calls[inputs.key])


class Boom(Step):
    """Always raise a plain exception."""

    name = "test.boom"

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        raise ValueError("kaboom")


class Sleeper(Step):
    """Sleep until cancelled (or ``seconds``); records whether it saw ``ctx.cancelled``."""

    name = "test.sleep"
    saw_cancel: ClassVar[list[str]] = []
    started: ClassVar[dict[str, asyncio.Event]] = {}

    class Inputs(BaseModel):
        seconds: float = 3600

    class Outputs(BaseModel):
        slept: float

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        Sleeper.started.setdefault(ctx.run_id, asyncio.Event()).set()
        try:
            await asyncio.sleep(inputs.seconds)
        except asyncio.CancelledError:
            if ctx.cancelled.is_set():
                Sleeper.saw_cancel.append(ctx.step_id)
            raise
        return self.Outputs(slept=inputs.seconds)


class Stream(Step):
    """Emit ``count`` chunks, then return how many it sent."""

    name = "test.stream"
    streaming = True

    class Inputs(BaseModel):
        count: int = 3

    class Outputs(BaseModel):
        sent: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        for index in range(inputs.count):
            await ctx.emit({"token": f"t{index}"})
        return self.Outputs(sent=inputs.count)


class BadOutputs(Step):
    """Returns outputs that do not match its Outputs model."""

    name = "test.bad_outputs"

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        number: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Any:
        return {"number": "not a number"}


class Big(Step):
    """Return a text of ``size`` characters."""

    name = "test.big"

    class Inputs(BaseModel):
        size: int

    class Outputs(BaseModel):
        text: str

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        return self.Outputs(text="x" * inputs.size)


class Gauge(Step):
    """Counts how many of its calls overlap (``Gauge.peak``)."""

    name = "test.gauge"
    running = 0
    peak = 0

    class Inputs(BaseModel):
        item: int

    class Outputs(BaseModel):
        item: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        Gauge.running += 1
        Gauge.peak = max(Gauge.peak, Gauge.running)
        for _ in range(5):
            await asyncio.sleep(0)
        Gauge.running -= 1
        return self.Outputs(item=inputs.item)


class CancelOwnRun(Step):
    """Cancels the run it belongs to, then waits to be cancelled itself."""

    name = "test.cancel_own_run"

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        ctx.kernel.pipelines.active[ctx.run_id].cancel()
        await asyncio.sleep(3600)
        return self.Outputs()


# -- heavy steps (worker pool) -------------------------------------------------------------


class Crunch(Step):
    """CPU-bound: sum of squares below ``n``; reports the process and its warm-ups."""

    name = "test.crunch"
    heavy = True
    warm_ups = 0

    class Inputs(BaseModel):
        n: int

    class Outputs(BaseModel):
        total: int
        pid: int
        warm_ups: int

    async def warm_up(self) -> None:
        type(self).warm_ups += 1

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        ctx.log.info("crunching %d", inputs.n)
        await ctx.emit({"progress": 0.5})
        total = sum(i * i for i in range(inputs.n))
        await ctx.emit({"progress": 1.0})
        return self.Outputs(total=total, pid=os.getpid(), warm_ups=type(self).warm_ups)


class Spin(Step):
    """CPU-bound and deaf to cancellation: only killing its process stops it."""

    name = "test.spin"
    heavy = True

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        while True:
            time.sleep(0.01)


class Patient(Step):
    """CPU-bound but polite: checks ``ctx.check_cancelled()`` between slices of work."""

    name = "test.patient"
    heavy = True

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        while True:
            time.sleep(0.01)
            ctx.check_cancelled()


class HeavyFail(Step):
    """Heavy, and fails with a coded error."""

    name = "test.heavy_fail"
    heavy = True

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        raise StepError("no luck in the worker", code="worker_said_no")


class Suicide(Step):
    """Heavy: its process exits mid-step."""

    name = "test.suicide"
    heavy = True

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        os._exit(3)


STEPS: list[type[Step]] = [
    Echo,
    Add,
    Rendezvous,
    Flaky,
    Boom,
    Sleeper,
    Stream,
    BadOutputs,
    Big,
    Gauge,
    CancelOwnRun,
    Crunch,
    Spin,
    Patient,
    HeavyFail,
    Suicide,
]


class StepKit:
    """Registers the test steps and records the run lifecycle hooks."""

    __name__ = "stepkit"

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.steps: list[tuple[Any, Any]] = []
        self.finished: list[Any] = []

    @hookimpl
    def register_steps(self) -> list[type[Step]]:
        return STEPS

    @hookimpl
    def on_run_started(self, run: Any) -> None:
        self.started.append(run)

    @hookimpl
    def on_step_finished(self, run: Any, step: Any) -> None:
        self.steps.append((run, step))

    @hookimpl
    async def on_run_finished(self, run: Any) -> None:
        self.finished.append(run)


def pipeline(
    *steps: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    name: str = "test-pipe",
) -> PipelineSpec:
    """A pipeline built in code (no YAML file)."""
    return PipelineSpec.model_validate(
        {"name": name, "inputs": inputs or {}, "steps": list(steps), "outputs": outputs or {}}
    )


def step_events(app: Any) -> dict[str, list[tuple[str, str]]]:
    """``(topic, status)`` of each step event, by step id, as the bus delivers them."""
    seen: dict[str, list[tuple[str, str]]] = {}

    async def collect(event: Event) -> None:
        if "step_id" in event.data and event.topic != "run.chunk":
            seen.setdefault(event.data["step_id"], []).append((event.topic, event.data["status"]))

    app.kernel.bus.subscribe(collect, "run.")
    return seen
