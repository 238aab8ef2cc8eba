"""Executors: the same step code inline and in the worker pool, with streaming, logs,
warm-up once per process, cancellation that reaches the worker, and dead workers."""

from __future__ import annotations

import asyncio
import os

import pytest
from stepkit import ALICE, ROOT, Crunch, pipeline

from notewell.kernel.events import Event
from notewell.kernel.pipelines import StepSpec
from notewell.kernel.pipelines.executors import executor_for, queue_for
from notewell.kernel.pipelines.executors.worker import WorkerPool


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"worker_pool_size": 1})


def crunch_pipeline(executor: str) -> object:
    return pipeline(
        {
            "id": "c",
            "uses": "test.crunch",
            "executor": executor,
            "stream": True,
            "with": {"n": "${{ inputs.n }}"},
        },
        inputs={"n": {"type": "integer"}},
        outputs={"total": "${{ steps.c.outputs.total }}"},
    )


async def test_the_same_step_gives_the_same_outputs_inline_and_in_a_worker(app, pipelines):
    chunks: list[Event] = []

    async def collect(event: Event) -> None:
        chunks.append(event)

    app.kernel.bus.subscribe(collect, "run.chunk")
    inline = await pipelines.run(crunch_pipeline("inline"), {"n": 1000}, actor=ALICE)
    worker = await pipelines.run(crunch_pipeline("worker"), {"n": 1000}, actor=ALICE)
    assert inline.status == worker.status == "succeeded"
    assert inline.outputs == worker.outputs == {"total": sum(i * i for i in range(1000))}
    assert inline.steps[0].outputs["pid"] == os.getpid()
    assert worker.steps[0].outputs["pid"] != os.getpid()
    assert worker.steps[0].executor == "worker"
    assert "INFO crunching 1000" in worker.steps[0].logs
    for _ in range(100):
        if len(chunks) == 4:
            break
        await asyncio.sleep(0.01)
    by_run = [(event.data["run_id"], event.data["chunk"]) for event in chunks]
    assert by_run == [
        (inline.id, {"progress": 0.5}),
        (inline.id, {"progress": 1.0}),
        (worker.id, {"progress": 0.5}),
        (worker.id, {"progress": 1.0}),
    ]


async def test_heavy_steps_default_to_the_worker_pool_and_warm_up_once(pipelines):
    spec = pipeline(
        {"id": "a", "uses": "test.crunch", "with": {"n": 10}},
        {"id": "b", "uses": "test.crunch", "needs": ["a"], "with": {"n": 20}},
    )
    run = await pipelines.run(spec, actor=ALICE)
    first, second = run.steps
    assert first.executor == second.executor == "worker"
    assert first.outputs["pid"] == second.outputs["pid"]  # a pool of one process
    assert first.outputs["warm_ups"] == second.outputs["warm_ups"] == 1


async def test_a_coded_error_in_a_worker_keeps_its_code_and_traceback(pipelines):
    run = await pipelines.run(pipeline({"id": "h", "uses": "test.heavy_fail"}), actor=ROOT)
    assert run.status == "failed"
    assert run.error["code"] == "worker_said_no"
    assert run.error["message"] == "step 'h' (test.heavy_fail) failed: no luck in the worker"
    assert "no luck in the worker" in run.traceback and "stepkit.py" in run.traceback


async def test_cancellation_reaches_a_step_in_the_worker(pipelines):
    pool = pipelines.executors["worker"]
    spec = pipeline({"id": "p", "uses": "test.patient"})
    handle = await pipelines.start_run(spec, actor=ALICE)
    for _ in range(3000):
        if pool.pids and pool._workers[0].current is not None:
            break
        await asyncio.sleep(0.01)
    pid = pool.pids[0]
    run = await pipelines.cancel(handle.id, ALICE)
    assert run.status == "cancelled"
    assert run.steps[0].status == "cancelled"
    for _ in range(3000):  # the worker stopped the step by itself and is free again
        if pool._idle:
            break
        await asyncio.sleep(0.01)
    assert pool.pids == [pid]


async def test_a_step_deaf_to_cancel_past_its_timeout_gets_its_worker_killed(pipelines):
    pool = pipelines.executors["worker"]
    pool.cancel_grace = 0.2
    run = await pipelines.run(pipeline({"id": "s", "uses": "test.spin", "timeout": 1}), actor=ALICE)
    assert run.error["code"] == "step_timeout"
    for _ in range(3000):
        if not pool._workers:
            break
        await asyncio.sleep(0.01)
    assert pool._workers == []  # killed; the next heavy step starts a fresh process
    again = await pipelines.run(crunch_pipeline("worker"), {"n": 3}, actor=ALICE)
    assert again.outputs == {"total": 5}


async def test_a_worker_that_dies_fails_its_step_with_worker_died(pipelines):
    run = await pipelines.run(pipeline({"id": "x", "uses": "test.suicide"}), actor=ALICE)
    assert run.status == "failed"
    assert run.error["code"] == "worker_died"


async def test_a_step_class_that_cannot_be_imported_in_a_worker_is_refused():
    from pydantic import BaseModel

    from notewell.kernel.pipelines import Step, StepContext
    from notewell.kernel.pipelines.errors import RemoteStepError
    from notewell.kernel.pipelines.executors import StepJob

    class Local(Step):
        name = "test.local"

        class Inputs(BaseModel):
            pass

        class Outputs(BaseModel):
            pass

        async def run(self, inputs, ctx):
            return self.Outputs()

    pool = WorkerPool(1)
    await pool.start()
    try:
        job = StepJob("test.local", Local, Local.Inputs(), "run", "step")
        with pytest.raises(RemoteStepError) as caught:
            await pool.submit(job, StepContext("run", "step"))
        assert caught.value.code == "step_not_importable"
    finally:
        await pool.stop()


def test_executor_and_queue_follow_metadata_and_yaml():
    plain = StepSpec(id="a", uses="test.echo")
    gpu = StepSpec(id="a", uses="test.echo", resources={"gpu": 1})
    forced = StepSpec(id="a", uses="test.crunch", executor="inline")
    named = StepSpec(id="a", uses="test.crunch", resources={"queue": "ingest"})
    from stepkit import Echo

    assert (executor_for(plain, Echo), queue_for(plain, Echo)) == ("inline", "interactive")
    assert (executor_for(gpu, Echo), queue_for(gpu, Echo)) == ("worker", "gpu")
    assert (executor_for(plain, Crunch), queue_for(plain, Crunch)) == ("worker", "batch")
    assert executor_for(plain, Crunch, heavy_executor="celery") == "celery"
    assert executor_for(forced, Crunch) == "inline"
    assert queue_for(named, Crunch) == "ingest"
