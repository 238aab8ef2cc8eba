"""The Celery executor against real ``notewell worker`` subprocesses and a real Redis:
the same outputs as inline and in the pool, a killed worker replaced without a side
effect applied twice, cancellation, queue separation under a backlog, GPU routing, a
worker that dies with no replacement. (The Celery app itself, without a worker, is in
test_celery_app.py.)

The waits below have deadlines only so that a hang fails the test; no assertion depends
on how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celerykit import PLUGIN_SOURCE, CeleryKit
from redis import Redis
from stepkit import ALICE, ROOT, pipeline, step_events

from notewell.kernel.celery_app import TASK_NAME
from notewell.kernel.events import Event
from notewell.kernel.settings import Settings
from notewell.testing.workers import ALL_QUEUES, CeleryWorker, CeleryWorkers

HERE = Path(__file__).parent
VISIBILITY = 4  # seconds: a killed worker's message goes back to its queue soon

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def broker(celery_broker_url: str) -> Iterator[Redis]:
    client = Redis.from_url(celery_broker_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def settings(settings: Settings, celery_broker_url: str) -> Settings:
    return settings.model_copy(update={"broker_url": celery_broker_url, "worker_pool_size": 1})


@pytest.fixture
def plugins(plugins: list[Any]) -> list[Any]:
    return [*plugins, CeleryKit()]


@pytest.fixture
def celery(pipelines: Any) -> Any:
    """The app's Celery executor, with short waits for the tests."""
    executor = pipelines.executors["celery"]
    executor.idle_check = 0.5
    executor.orphan_after = 600.0  # a test that wants it short says so
    return executor


@pytest.fixture
def celery_worker_env(tmp_path: Path) -> dict[str, str]:
    """The workers load the test steps from a plugin folder, as an operator's would."""
    plugin_dir = tmp_path / "worker-plugins"
    plugin_dir.mkdir()
    (plugin_dir / "celery_steps.py").write_text(PLUGIN_SOURCE)
    return {
        "NOTEWELL_PLUGIN_DIRS": str(plugin_dir),
        "NOTEWELL_PLUGINS": "celery_steps",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture
def start_worker(celery_workers: CeleryWorkers) -> Callable[..., Any]:
    """``await start_worker(queues=..., concurrency=...)``: a ready worker (stopped by
    ``celery_workers`` afterwards)."""

    async def start(queues: str = ALL_QUEUES, concurrency: int = 1) -> CeleryWorker:
        return await asyncio.to_thread(
            celery_workers.start, queues, concurrency, visibility_timeout=VISIBILITY
        )

    return start


async def until(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    """Wait for ``condition()``; the deadline only turns a hang into a failure."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def gate_step(step_id: str, marker: Path, gate: Path, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "uses": extra.pop("uses", "test.gate"),
        "with": {"marker": str(marker), "gate": str(gate)},
        **extra,
    }


def crunch_pipeline(executor: str | None) -> Any:
    step = {"id": "c", "uses": "test.crunch", "stream": True, "with": {"n": "${{ inputs.n }}"}}
    if executor:
        step["executor"] = executor
    return pipeline(
        step,
        inputs={"n": {"type": "integer"}},
        outputs={"total": "${{ steps.c.outputs.total }}"},
    )


def queued_ids(broker: Redis, queue: str) -> set[str]:
    """The task ids of the messages waiting in ``queue`` (kombu's Redis list)."""
    return {json.loads(raw)["headers"]["id"] for raw in broker.lrange(queue, 0, -1)}


def outcome(broker: Redis, key: str) -> Any:
    stored = broker.get(f"notewell:job:{key}:outcome")
    return json.loads(stored) if stored else None


# -- with a real worker ----------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
async def test_one_pipeline_gives_the_same_outputs_inline_in_the_pool_and_on_celery(
    app, pipelines, celery, start_worker
):
    await start_worker()
    chunks: list[Event] = []

    async def collect(event: Event) -> None:
        chunks.append(event)

    app.kernel.bus.subscribe(collect, "run.chunk")
    runs = {
        name: await pipelines.run(crunch_pipeline(name), {"n": 1000}, actor=ALICE)
        for name in ("inline", "worker", "celery")
    }
    default = await pipelines.run(crunch_pipeline(None), {"n": 1000}, actor=ALICE)
    expected = {"total": sum(i * i for i in range(1000))}
    assert [run.outputs for run in (*runs.values(), default)] == [expected] * 4
    assert {name: run.steps[0].executor for name, run in runs.items()} == {
        "inline": "inline",
        "worker": "worker",
        "celery": "celery",
    }
    assert default.steps[0].executor == "celery"  # heavy steps go to Celery with a broker
    on_celery, again = runs["celery"].steps[0], default.steps[0]
    assert on_celery.outputs["pid"] not in (os.getpid(), runs["worker"].steps[0].outputs["pid"])
    assert again.outputs["pid"] == on_celery.outputs["pid"]  # one worker process
    assert on_celery.outputs["warm_ups"] == again.outputs["warm_ups"] == 1
    assert "INFO crunching 1000" in on_celery.logs
    await until(lambda: len(chunks) == 8, "the chunks of every run")
    by_run: dict[str, list[Any]] = {}
    for event in chunks:
        by_run.setdefault(event.data["run_id"], []).append(event.data["chunk"])
    assert list(by_run.values()) == [[{"progress": 0.5}, {"progress": 1.0}]] * 4


@pytest.mark.integration
@pytest.mark.slow
async def test_errors_on_a_worker_keep_their_code_and_the_workers_own_step_registry(
    pipelines, celery, start_worker
):
    await start_worker()
    failed = await pipelines.run(pipeline({"id": "h", "uses": "test.heavy_fail"}), actor=ROOT)
    assert failed.error["code"] == "worker_said_no"
    assert failed.error["message"] == "step 'h' (test.heavy_fail) failed: no luck in the worker"
    assert "stepkit.py" in failed.traceback  # the worker's own traceback
    missing = await pipelines.run(pipeline({"id": "s", "uses": "test.server_only"}), actor=ALICE)
    assert missing.steps[0].executor == "celery"
    assert missing.error["code"] == "unknown_step"  # the worker does not load that plugin


@pytest.mark.integration
@pytest.mark.slow
async def test_cancelling_a_run_stops_its_step_on_the_worker(
    pipelines, celery, start_worker, broker, tmp_path
):
    worker = await start_worker()
    marker, gate = tmp_path / "marker", tmp_path / "gate"
    handle = await pipelines.start_run(pipeline(gate_step("g", marker, gate)), actor=ALICE)
    await until(marker.exists, "the step to start on the worker")
    run = await pipelines.cancel(handle.id, ALICE)
    assert run.status == "cancelled"
    assert run.error["code"] == "run_cancelled"
    assert (run.steps[0].status, run.steps[0].executor) == ("cancelled", "celery")
    await until(Path(f"{marker}.cancelled").exists, "the step to see ctx.cancelled")
    revoked = f"Tasks flagged as revoked: {handle.id}:g:1"
    await until(lambda: revoked in worker.log.read_text(), "the task to be revoked")
    await until(lambda: outcome(broker, f"{handle.id}:g:1") is not None, "the attempt's end")
    assert outcome(broker, f"{handle.id}:g:1") == {"status": "cancelled"}
    gate.touch()  # the worker process is free for the next step
    after = await pipelines.run(pipeline(gate_step("g", tmp_path / "next", gate)), actor=ALICE)
    assert after.status == "succeeded"
    assert lines(tmp_path / "next") == lines(marker)  # the same process


@pytest.mark.integration
@pytest.mark.slow
async def test_cancel_reaches_cpu_bound_steps_and_a_deaf_one_has_its_process_killed(
    pipelines, celery, start_worker, broker, tmp_path
):
    await start_worker()
    gate = tmp_path / "gate"
    gate.touch()

    async def pid_of_next_step(name: str) -> str:
        run = await pipelines.run(pipeline(gate_step("g", tmp_path / name, gate)), actor=ALICE)
        assert run.status == "succeeded"
        return lines(tmp_path / name)[0]

    async def cancel_when_started(step: str) -> str:
        handle = await pipelines.start_run(pipeline({"id": "x", "uses": step}), actor=ALICE)
        key = f"{handle.id}:x:1"
        await until(lambda: broker.exists(f"notewell:job:{key}:claim"), f"{step} to start")
        assert (await pipelines.cancel(handle.id, ALICE)).status == "cancelled"
        return key

    first = await pid_of_next_step("a")
    polite = await cancel_when_started("test.patient")  # checks ctx.check_cancelled()
    await until(lambda: outcome(broker, polite) is not None, "the polite step to stop")
    assert outcome(broker, polite) == {"status": "cancelled"}
    assert await pid_of_next_step("b") == first  # it stopped by itself

    celery.cancel_grace = 0.5
    deaf = await cancel_when_started("test.spin")  # ignores cancels
    second = await pid_of_next_step("c")
    assert second != first  # its process was killed, and a fresh one took over
    # Celery acknowledged the message of the step it killed: nothing runs it again
    await until(
        lambda: broker.zcard("unacked_index") == broker.llen("batch") == 0,
        "every message to be acknowledged",
    )
    assert outcome(broker, deaf) is None


@pytest.mark.integration
@pytest.mark.slow
async def test_a_worker_killed_mid_step_is_replaced_and_no_side_effect_runs_twice(
    pipelines, celery, start_worker, broker, tmp_path
):
    effects, gate = tmp_path / "effects", tmp_path / "gate"
    wait_marker, once_marker = tmp_path / "wait", tmp_path / "once"
    resumable = pipeline(
        {"id": "first", "uses": "test.mark", "with": {"path": str(effects), "line": "first"}},
        gate_step("wait", wait_marker, gate, needs=["first"]),
        {"id": "last", "uses": "test.mark", "needs": ["wait"],
         "with": {"path": str(effects), "line": "last"}},
    )  # fmt: skip
    fragile = pipeline(gate_step("once", once_marker, gate, uses="test.gate_once"), name="once")
    crashing = await start_worker(queues="batch", concurrency=2)
    survivor = await pipelines.start_run(resumable, actor=ALICE)
    refused = await pipelines.start_run(fragile, actor=ALICE)
    await until(lambda: wait_marker.exists() and once_marker.exists(), "both steps to start")
    crashing.kill()
    await start_worker(queues="batch", concurrency=2)
    await until(lambda: len(lines(wait_marker)) == 2, "the new worker to take the step over")
    gate.touch()
    done, failed = await survivor.wait(), await refused.wait()

    assert done.status == "succeeded"
    assert lines(effects) == ["first", "last"]
    assert len(set(lines(wait_marker))) == 2  # ran again, in another process
    steps = {step.step_id: step for step in (await pipelines.get(done.id, ALICE)).steps}
    assert "the worker running this step was lost; running it again" in steps["wait"].logs
    assert failed.status == "failed"
    assert failed.error["code"] == "worker_lost"  # not idempotent: never started twice
    assert len(lines(once_marker)) == 1

    # a finished attempt delivered again (its worker died before the ack) is not re-run
    key = f"{done.id}:first:1"
    info = {"run_id": done.id, "step_id": "first", "attempt": 1, "actor": ALICE.to_public()}
    args = ["test.mark", {"path": str(effects), "line": "first"}, info]
    events = f"notewell:job:{key}:events"
    assert not broker.exists(events)  # the server read it in full and dropped it
    await asyncio.to_thread(celery.app.send_task, TASK_NAME, args, task_id=key, queue="batch")
    await until(
        lambda: [f["k"] for _, f in broker.xrange(events)] == ["end"],
        "the redelivered attempt to announce its stored outcome",
    )
    assert lines(effects) == ["first", "last"]


@pytest.mark.integration
@pytest.mark.slow
async def test_an_interactive_step_is_not_held_up_by_a_batch_backlog(
    pipelines, celery, start_worker, broker, tmp_path
):
    await start_worker(queues="batch", concurrency=1)
    await start_worker(queues="interactive", concurrency=1)
    gate = tmp_path / "gate"
    markers = [tmp_path / f"b{i}" for i in range(3)]
    backlog = pipeline(
        *(gate_step(f"b{i}", marker, gate) for i, marker in enumerate(markers)), name="ingest"
    )
    batch = await pipelines.start_run(backlog, actor=ALICE)
    await until(
        lambda: sum(m.exists() for m in markers) == 1 and broker.llen("batch") == 2,
        "one batch step running and two waiting",
    )
    answer = pipeline(
        {"id": "answer", "uses": "test.echo", "executor": "celery", "with": {"text": "hi"}},
        outputs={"text": "${{ steps.answer.outputs.text }}"},
        name="chat",
    )
    chat = await pipelines.run(answer, actor=ALICE)
    assert chat.status == "succeeded"
    assert chat.outputs == {"text": "hi"}
    assert chat.steps[0].executor == "celery"
    # the backlog has not moved meanwhile
    assert (await pipelines.get(batch.id, ALICE)).status == "running"
    assert sum(m.exists() for m in markers) == 1
    assert broker.llen("batch") == 2
    # the worker keeps the message of its running step invisible past the visibility
    # timeout (its heartbeat), so no other worker is handed it
    await until(lambda: broker.zcard("unacked_index") == 1, "the chat step's ack")
    [(tag, delivered)] = broker.zrange("unacked_index", 0, -1, withscores=True)
    await until(
        lambda: broker.zscore("unacked_index", tag) > delivered + VISIBILITY,
        "the heartbeat to extend the message past its visibility timeout",
    )
    assert sum(m.exists() for m in markers) == 1
    assert broker.llen("batch") == 2
    gate.touch()
    assert (await batch.wait()).status == "succeeded"


@pytest.mark.integration
@pytest.mark.slow
async def test_a_gpu_step_goes_to_the_gpu_queue_and_a_cancelled_one_never_runs(
    pipelines, celery, start_worker, broker, tmp_path
):
    gate = tmp_path / "gate"
    gate.touch()
    infer = await pipelines.start_run(
        pipeline(gate_step("infer", tmp_path / "m1", gate, resources={"gpu": 1})), actor=ALICE
    )
    await until(lambda: queued_ids(broker, "gpu") == {f"{infer.id}:infer:1"}, "the message")
    assert broker.llen("batch") == broker.llen("interactive") == 0
    dropped = await pipelines.start_run(
        pipeline(gate_step("infer", tmp_path / "m2", gate, resources={"gpu": 1})), actor=ALICE
    )
    await until(lambda: len(queued_ids(broker, "gpu")) == 2, "the second message")
    assert (await pipelines.cancel(dropped.id, ALICE)).status == "cancelled"

    await start_worker(queues="gpu")
    run = await infer.wait()
    assert run.status == "succeeded"
    assert (await pipelines.get(infer.id, ALICE)).steps[0].executor == "celery"
    key = f"{dropped.id}:infer:1"
    await until(lambda: outcome(broker, key) is not None, "the worker to drop the cancelled one")
    assert outcome(broker, key) == {"status": "cancelled"}
    assert not (tmp_path / "m2").exists()


@pytest.mark.integration
@pytest.mark.slow
async def test_a_step_whose_worker_dies_with_no_replacement_fails_clearly(
    pipelines, celery, start_worker, tmp_path
):
    celery.orphan_after = 3.0
    marker, gate = tmp_path / "marker", tmp_path / "gate"
    worker = await start_worker(queues="batch")
    handle = await pipelines.start_run(pipeline(gate_step("g", marker, gate)), actor=ALICE)
    await until(marker.exists, "the step to start")
    worker.kill()
    run = await handle.wait()
    assert run.status == "failed"
    assert run.error["code"] == "worker_lost"
    step = (await pipelines.get(handle.id, ALICE)).steps[0]
    assert "no Celery worker serves the queue 'batch'" in step.logs

    nowhere = {"queue": "nowhere"}
    never = await pipelines.run(
        pipeline(gate_step("g", tmp_path / "m2", gate, resources=nowhere)), actor=ALICE
    )
    assert never.error["code"] == "no_worker"
    timed = await pipelines.run(
        pipeline(gate_step("g", tmp_path / "m3", gate, resources=nowhere, timeout=0.5)),
        actor=ALICE,
    )
    assert timed.error["code"] == "no_worker"  # its timeout runs only once a worker has it


# -- queued behind a busy worker ---------------------------------------------------------------

TIMEOUT = 1.0  # the waiting steps' `timeout:`, in seconds


async def status_of(pipelines: Any, run_id: str, step_id: str) -> str | None:
    run = await pipelines.get(run_id, ALICE)
    return next((s.status for s in run.steps or [] if s.step_id == step_id), None)


@pytest.mark.integration
@pytest.mark.slow
async def test_a_step_behind_a_busy_worker_is_queued_and_its_timeout_starts_when_it_runs(
    app, pipelines, celery, start_worker, broker, tmp_path
):
    events = step_events(app)
    await start_worker(queues="batch", concurrency=1)
    held, opened = tmp_path / "held", tmp_path / "open"
    hold = await pipelines.start_run(pipeline(gate_step("hold", held, opened)), actor=ALICE)
    await until(held.exists, "the first step to hold the only worker process")

    effects, slow_marker = tmp_path / "effects", tmp_path / "slow"
    quick = {"id": "quick", "uses": "test.mark", "timeout": TIMEOUT,
             "with": {"path": str(effects), "line": "ran"}}  # fmt: skip
    waiting = await pipelines.start_run(pipeline(quick), actor=ALICE)
    doomed = await pipelines.start_run(
        pipeline(gate_step("slow", slow_marker, tmp_path / "never", timeout=TIMEOUT)),
        actor=ALICE,
    )
    await until(lambda: broker.llen("batch") == 2, "both steps to wait in the queue")
    await asyncio.sleep(2 * TIMEOUT)  # queued for twice their timeout
    assert await status_of(pipelines, waiting.id, "quick") == "queued"
    assert await status_of(pipelines, doomed.id, "slow") == "queued"
    assert (await pipelines.get(doomed.id, ALICE)).status == "running"
    assert broker.llen("batch") == 2

    opened.touch()
    assert (await hold.wait()).status == "succeeded"
    done = await waiting.wait()
    assert done.status == "succeeded"  # its timeout did not count the wait
    assert lines(effects) == ["ran"]
    failed = await doomed.wait()
    assert slow_marker.exists()  # it ran, then ran too long
    assert failed.status == "failed"
    assert failed.error["code"] == "step_timeout"

    started_then = [("run.step_queued", "queued"), ("run.step_started", "running")]
    assert events["hold"] == [*started_then, ("run.step_finished", "succeeded")]
    assert events["quick"] == [*started_then, ("run.step_finished", "succeeded")]
    assert events["slow"] == [*started_then, ("run.step_finished", "failed")]
    [record] = (await pipelines.get(done.id, ALICE)).steps
    assert (record.status, record.executor) == ("succeeded", "celery")


@pytest.mark.integration
@pytest.mark.slow
async def test_a_step_no_worker_takes_in_time_fails_with_queue_timeout_and_is_dropped(
    make_app, start_worker, broker, tmp_path
):
    await start_worker(queues="batch", concurrency=1)
    held, opened, never = tmp_path / "held", tmp_path / "open", tmp_path / "never"
    async with make_app(step_queue_timeout=TIMEOUT) as app:
        pipelines = app.kernel.pipelines
        pipelines.executors["celery"].idle_check = 0.5
        hold = await pipelines.start_run(pipeline(gate_step("hold", held, opened)), actor=ALICE)
        await until(held.exists, "the first step to hold the only worker process")
        starved = await pipelines.run(pipeline(gate_step("starved", never, opened)), actor=ALICE)
        assert starved.status == "failed"
        assert starved.error["code"] == "queue_timeout"
        opened.touch()
        assert (await hold.wait()).status == "succeeded"
    # the worker receives the starved step's message once free, and drops it
    await until(
        lambda: broker.llen("batch") == broker.zcard("unacked_index") == 0,
        "the starved step's message to be consumed",
    )
    assert not never.exists()


# -- the celery_worker fixture (notewell.testing) -----------------------------------------------


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.integration
@pytest.mark.slow
async def test_the_celery_worker_fixture_runs_steps_restarts_and_stops_by_process_group(
    pipelines, celery, celery_worker
):
    first = await pipelines.run(crunch_pipeline("celery"), {"n": 10}, actor=ALICE)
    assert first.status == "succeeded"
    old = celery_worker.pid
    assert group_alive(old)
    await asyncio.to_thread(celery_worker.restart)
    assert celery_worker.pid != old
    assert not group_alive(old)  # the worker and its pool processes are gone
    again = await pipelines.run(crunch_pipeline("celery"), {"n": 10}, actor=ALICE)
    assert again.outputs["total"] == first.outputs["total"]
    # a process of the new worker ran it
    assert again.steps[0].outputs["pid"] != first.steps[0].outputs["pid"]
    current = celery_worker.pid
    await asyncio.to_thread(celery_worker.stop)
    assert not group_alive(current)
