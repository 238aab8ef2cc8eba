"""The pipeline engine's overhead per inline step, against calling the steps directly.

    .venv/bin/python bench/pipeline_overhead.py [--runs 200] [--rounds 5]

Same process, same run, same trivial step (``bench.inc``: x → x + 1):

1. a 10-step linear pipeline, and a 100-step fan-out (one root, 99 steps that each read
   the root's output, run concurrently), each against the same calls made directly
   (``await step.run(Inputs(...), ctx)`` in a loop, or under ``asyncio.gather``);
2. linear pipelines of 10, 100 and 1000 steps, to show that a run's cost — records
   included (SQLite, the embedded default) — grows linearly in its steps.

Engine time is ``start_run`` + ``wait()`` for many runs back to back, then writing the
records still queued (``store.flush()``), divided by the runs: checking inputs,
rendering and validating each step's inputs and outputs, events, hooks, and the run and
step rows — which the journal writes in batches, so their cost is counted amortized, as
it is paid (reading the records back is not counted). Budget (docs/performance.md):
under 0.2 ms of overhead per inline step, judged on CPU time (this process's, all
threads); wall time, which the machine's other work moves, is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from notewell.kernel import SYSTEM, hookimpl
from notewell.kernel.app import create_app
from notewell.kernel.pipelines import PipelineService, PipelineSpec, Step, StepContext
from notewell.kernel.settings import Settings

BUDGET_MS = 0.2


class Inc(Step):
    """x → x + 1."""

    name = "bench.inc"

    class Inputs(BaseModel):
        x: int

    class Outputs(BaseModel):
        x: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        return self.Outputs(x=inputs.x + 1)


class BenchSteps:
    __name__ = "bench"

    @hookimpl
    def register_steps(self) -> list[type[Step]]:
        return [Inc]


def linear(length: int) -> PipelineSpec:
    steps = [{"id": "s0", "uses": "bench.inc", "with": {"x": 0}}]
    steps += [
        {"id": f"s{i}", "uses": "bench.inc", "with": {"x": f"${{{{ steps.s{i - 1}.outputs.x }}}}"}}
        for i in range(1, length)
    ]
    outputs = {"x": f"${{{{ steps.s{length - 1}.outputs.x }}}}"}
    return PipelineSpec.model_validate(
        {"name": f"linear-{length}", "steps": steps, "outputs": outputs}
    )


def fan_out(width: int) -> PipelineSpec:
    steps = [{"id": "root", "uses": "bench.inc", "with": {"x": 0}}]
    steps += [
        {"id": f"b{i}", "uses": "bench.inc", "with": {"x": "${{ steps.root.outputs.x }}"}}
        for i in range(width - 1)
    ]
    return PipelineSpec.model_validate({"name": f"fan-{width}", "steps": steps})


async def direct_linear(step: Inc, length: int) -> None:
    ctx = StepContext(run_id="direct", step_id="s")
    x = 0
    for _ in range(length):
        x = (await step.run(Inc.Inputs(x=x), ctx)).x


async def direct_fan_out(step: Inc, width: int) -> None:
    ctx = StepContext(run_id="direct", step_id="s")
    root = await step.run(Inc.Inputs(x=0), ctx)
    await asyncio.gather(*(step.run(Inc.Inputs(x=root.x), ctx) for _ in range(width - 1)))


async def per_run_ms(
    body: Callable[[], Awaitable[Any]],
    runs: int,
    rounds: int,
    settle: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[float, float]:
    """Milliseconds per ``body()`` — wall time and this process's CPU time (all threads:
    the database driver's too) — over ``runs`` calls back to back and then ``settle()``
    (writing the records still queued), median of ``rounds``: the amortized cost, every
    record written included."""
    await body()  # warm caches (plans, pydantic, the pipeline version row)
    if settle is not None:
        await settle()
    walls, cpus = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(runs):
            await body()
        if settle is not None:
            await settle()
        walls.append((time.perf_counter() - started) * 1000 / runs)
        cpus.append((time.process_time() - cpu) * 1000 / runs)
    return statistics.median(walls), statistics.median(cpus)


async def compare(service: PipelineService, runs: int, rounds: int) -> None:
    step = Inc()
    cases = [
        ("10-step linear", linear(10), lambda: direct_linear(step, 10), 10),
        ("100-step fan-out", fan_out(100), lambda: direct_fan_out(step, 100), 100),
    ]
    print(
        f"{'pipeline':<18} {'direct ms':>10} {'engine ms':>10} {'overhead/step':>14} "
        f"{'ratio':>6}   {'CPU: direct':>11} {'engine':>8} {'overhead/step':>14}"
    )
    for label, spec, direct, steps in cases:
        direct_wall, direct_cpu = await per_run_ms(direct, runs, rounds)

        async def engine(spec: PipelineSpec = spec) -> None:
            run = await (await service.start_run(spec, actor=SYSTEM)).wait()
            assert run.status == "succeeded", run.error

        wall, cpu = await per_run_ms(engine, runs, rounds, service.store.flush)
        per_step, per_step_cpu = (wall - direct_wall) / steps, (cpu - direct_cpu) / steps
        verdict = "ok" if per_step_cpu < BUDGET_MS else "OVER BUDGET"
        print(
            f"{label:<18} {direct_wall:>10.3f} {wall:>10.3f} {per_step:>11.3f} ms "
            f"{wall / direct_wall:>5.0f}x   {direct_cpu:>11.3f} {cpu:>8.3f} "
            f"{per_step_cpu:>11.3f} ms  {verdict}"
        )


async def scaling(service: PipelineService, runs: int, rounds: int) -> None:
    print(f"\n{'linear steps':<13} {'run ms':>9} {'per step ms':>12} {'CPU per step ms':>16}")
    totals = {}
    for length in (10, 100, 1000):
        spec = linear(length)

        async def engine(spec: PipelineSpec = spec) -> None:
            await (await service.start_run(spec, actor=SYSTEM)).wait()

        count = max(3, runs * 10 // length)
        wall, cpu = await per_run_ms(engine, count, rounds, service.store.flush)
        totals[length] = cpu
        print(f"{length:<13} {wall:>9.2f} {wall / length:>12.3f} {cpu / length:>16.3f}")
    slope = (totals[1000] - totals[10]) / 990
    print(
        f"fit (CPU): {totals[10] - 10 * slope:.2f} ms per run + {slope:.3f} ms per step "
        f"(100 steps predicted {totals[10] + 90 * slope:.2f} ms, measured {totals[100]:.2f})"
    )


async def main(runs: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.load(
            data_dir=Path(folder), log_level="ERROR", log_format="console", secret_key="bench"
        )
        app = create_app(settings, plugins=[BenchSteps()])
        async with app.test_app():
            await compare(app.kernel.pipelines, runs, rounds)
            await scaling(app.kernel.pipelines, runs, rounds)
    print(
        f"\nbudget: under {BUDGET_MS} ms of engine overhead per inline step (docs/performance.md)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs back to back per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (the median is shown)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.rounds))
