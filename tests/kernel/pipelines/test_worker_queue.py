"""A step waiting for a free process of the local worker pool is ``queued``, its
``timeout:`` counts only once a process runs it, and the wait itself is bounded by
``step_queue_timeout`` (``queue_timeout``). The pool has one process here.

The waits below have deadlines only so that a hang fails the test; what is asserted is
the order of what happened, not how long it took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stepkit
from celerykit import CeleryKit
from stepkit import ALICE, pipeline

TIMEOUT = 1.0  # the waiting step's `timeout:`, in seconds


@pytest.fixture
def settings(settings: Any) -> Any:
    return settings.model_copy(update={"worker_pool_size": 1})


@pytest.fixture
def plugins(plugins: list[Any]) -> list[Any]:
    return [*plugins, CeleryKit()]


@pytest.fixture(name="step_events")
def step_events_fixture(app: Any) -> dict[str, list[tuple[str, str]]]:
    return stepkit.step_events(app)


async def until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Wait for ``condition()``; the deadline only turns a hang into a failure."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def gate(step_id: str, marker: Path, gate_file: Path, **extra: Any) -> dict[str, Any]:
    """A ``test.gate`` step (heavy: the pool runs it): notes its pid, waits for the gate."""
    arguments = {"marker": str(marker), "gate": str(gate_file)}
    return {"id": step_id, "uses": "test.gate", "with": arguments, **extra}


async def status_of(pipelines: Any, run_id: str, step_id: str) -> str | None:
    run = await pipelines.get(run_id, ALICE)
    return next((s.status for s in run.steps or [] if s.step_id == step_id), None)


async def test_a_step_behind_a_busy_pool_is_queued_and_its_timeout_starts_when_it_runs(
    pipelines, step_events, tmp_path
):
    held, opened = tmp_path / "held", tmp_path / "open"
    hold = await pipelines.start_run(pipeline(gate("hold", held, opened)), actor=ALICE)
    await until(held.exists, "the first step to hold the only process")

    effects = tmp_path / "effects"
    quick = {"id": "quick", "uses": "test.mark", "timeout": TIMEOUT,
             "with": {"path": str(effects), "line": "ran"}}  # fmt: skip
    slow_marker = tmp_path / "slow"
    waiting = await pipelines.start_run(pipeline(quick), actor=ALICE)
    doomed = await pipelines.start_run(
        pipeline(gate("slow", slow_marker, tmp_path / "never", timeout=TIMEOUT)), actor=ALICE
    )
    await until(lambda: "slow" in step_events, "the slow step to be queued")
    await asyncio.sleep(2 * TIMEOUT)  # queued for twice their timeout
    assert await status_of(pipelines, waiting.id, "quick") == "queued"
    assert await status_of(pipelines, doomed.id, "slow") == "queued"
    assert (await pipelines.get(waiting.id, ALICE)).status == "running"
    assert not effects.exists() and not slow_marker.exists()

    opened.touch()
    assert (await hold.wait()).status == "succeeded"
    done = await waiting.wait()
    assert done.status == "succeeded"  # its timeout did not count the wait
    assert effects.read_text() == "ran\n"
    failed = await doomed.wait()
    assert slow_marker.exists()  # it ran, then ran too long
    assert failed.status == "failed"
    assert failed.error["code"] == "step_timeout"

    assert step_events["hold"] == [
        ("run.step_queued", "queued"),
        ("run.step_started", "running"),
        ("run.step_finished", "succeeded"),
    ]
    assert step_events["quick"] == [
        ("run.step_queued", "queued"),
        ("run.step_started", "running"),
        ("run.step_finished", "succeeded"),
    ]
    assert step_events["slow"] == [
        ("run.step_queued", "queued"),
        ("run.step_started", "running"),
        ("run.step_finished", "failed"),
    ]
    [record] = (await pipelines.get(done.id, ALICE)).steps
    assert (record.status, record.executor) == ("succeeded", "worker")


async def test_cancelling_a_run_whose_step_is_queued_cancels_it_before_it_runs(
    pipelines, step_events, tmp_path
):
    held, opened = tmp_path / "held", tmp_path / "open"
    hold = await pipelines.start_run(pipeline(gate("hold", held, opened)), actor=ALICE)
    await until(held.exists, "the first step to hold the only process")
    never = tmp_path / "never"
    queued = await pipelines.start_run(pipeline(gate("later", never, opened)), actor=ALICE)
    await until(lambda: "later" in step_events, "the second step to be queued")

    run = await pipelines.cancel(queued.id, ALICE)
    assert run.status == "cancelled"
    assert [s.status for s in (await pipelines.get(queued.id, ALICE)).steps] == ["cancelled"]
    opened.touch()
    assert (await hold.wait()).status == "succeeded"
    assert not never.exists()
    assert step_events["later"] == [
        ("run.step_queued", "queued"),
        ("run.step_finished", "cancelled"),
    ]


async def test_a_step_that_never_gets_a_process_fails_with_queue_timeout(make_app, tmp_path):
    held, opened = tmp_path / "held", tmp_path / "open"
    async with make_app(step_queue_timeout=TIMEOUT) as app:
        pipelines = app.kernel.pipelines
        hold = await pipelines.start_run(pipeline(gate("hold", held, opened)), actor=ALICE)
        await until(held.exists, "the first step to hold the only process")
        never = tmp_path / "never"
        starved = await pipelines.run(pipeline(gate("starved", never, opened)), actor=ALICE)
        assert starved.status == "failed"
        assert starved.error["code"] == "queue_timeout"
        opened.touch()
        assert (await hold.wait()).status == "succeeded"  # the wait bound is per step
        assert not never.exists()
