"""Run records on SQLite and PostgreSQL: few statements per run, large values by
reference, resume from stored versions, cursor pagination, and the reaper."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from stepkit import ALICE, BOB, ROOT, pipeline

from notewell.kernel.db import utcnow
from notewell.kernel.pipelines.records import Run, Runner, StepRun, blob_id_of

RECORD_TABLES = ("kernel_run", "kernel_step_run", "kernel_run_blob", "kernel_pipeline_version")


@pytest.fixture
async def db_app(make_app, database_url):
    async with make_app(database_url=database_url, run_records_flush_s=60) as app:
        yield app  # records are written when a read (or the test) flushes them


def chain(length: int) -> object:
    steps = [{"id": "s0", "uses": "test.add", "with": {"a": 1}}]
    for index in range(1, length):
        steps.append(
            {
                "id": f"s{index}",
                "uses": "test.add",
                "with": {"a": f"${{{{ steps.s{index - 1}.outputs.sum }}}}", "b": 1},
            }
        )
    return pipeline(*steps, outputs={"sum": f"${{{{ steps.s{length - 1}.outputs.sum }}}}"})


def count_writes(app) -> list[str]:
    writes: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split(None, 3)
        if words[0].upper() in ("INSERT", "UPDATE", "DELETE") and any(
            table in statement for table in RECORD_TABLES
        ):
            writes.append(statement.split("(", 1)[0].split(" SET")[0].strip())

    event.listen(app.kernel.db.engine.sync_engine, "before_cursor_execute", record)
    return writes


async def test_a_run_costs_the_same_few_writes_whatever_its_length(db_app):
    pipelines = db_app.kernel.pipelines
    writes = count_writes(db_app)
    short = await pipelines.run(chain(3), actor=ALICE)
    assert writes == []  # queued in the journal, nothing written on the run's path
    await pipelines.store.flush()
    short_writes = list(writes)
    writes.clear()
    long = await pipelines.run(chain(40), actor=ALICE)
    await pipelines.store.flush()
    assert short.outputs == {"sum": 3} and long.outputs == {"sum": 40}
    assert len(long.steps) == 40
    # the pipeline's version, the run (already final), its steps in one executemany
    assert len(short_writes) == 3, short_writes
    assert len(writes) == 3, writes
    stored = await pipelines.get(long.id, ALICE)
    assert stored.status == "succeeded" and len(stored.steps) == 40


async def test_large_values_are_stored_by_reference(db_app):
    pipelines = db_app.kernel.pipelines
    spec = pipeline(
        {"id": "big", "uses": "test.big", "with": {"size": 300_000}},
        outputs={"text": "${{ steps.big.outputs.text }}"},
    )
    finished = await pipelines.run(spec, actor=ALICE)
    assert finished.outputs == {"text": "x" * 300_000}  # in memory: the whole value
    run = await pipelines.get(finished.id, ALICE)  # as stored
    ref = blob_id_of(run.outputs)
    step_ref = blob_id_of(run.steps[0].outputs)
    assert ref and step_ref and run.outputs["bytes"] > 300_000
    assert (await pipelines.blob(run.id, ref, ALICE)) == {"text": "x" * 300_000}
    assert (await pipelines.blob(run.id, step_ref, ALICE))["text"] == "x" * 300_000
    with pytest.raises(Exception) as caught:
        await pipelines.blob(run.id, ref, BOB)
    assert caught.value.code == "run_not_found"


async def test_resume_uses_the_stored_pipeline_version(db_app):
    pipelines = db_app.kernel.pipelines
    spec = pipeline(
        {"id": "big", "uses": "test.big", "with": {"size": 300_000}},
        {
            "id": "shaky",
            "uses": "test.flaky",
            "retry": {"attempts": 1},
            "with": {"key": f"records-{db_app.kernel.db.dialect}"},
            "needs": ["big"],
        },
    )
    failed = await pipelines.run(spec, actor=ALICE)
    handle = await pipelines.resume(failed.id, ALICE)
    await handle.wait()
    resumed = await pipelines.get(handle.id, ALICE)
    assert resumed.status == "succeeded"
    assert [s.status for s in resumed.steps] == ["reused", "succeeded"]


async def test_runs_page_newest_first_with_filters_and_owners(db_app):
    pipelines = db_app.kernel.pipelines
    ok = pipeline({"id": "e", "uses": "test.echo", "with": {"text": "x"}}, name="ok-pipe")
    bad = pipeline({"id": "b", "uses": "test.boom"}, name="bad-pipe")
    mine = [await pipelines.run(spec, actor=ALICE) for spec in (ok, bad, ok, bad, ok)]
    theirs = await pipelines.run(ok, actor=BOB)
    seen, cursor = [], None
    while True:
        page, cursor = await pipelines.page(ALICE, limit=2, cursor=cursor)
        seen.extend(run.id for run in page)
        if cursor is None:
            break
    assert seen == [run.id for run in reversed(mine)]
    failed, _ = await pipelines.page(ALICE, status="failed")
    assert [run.pipeline for run in failed] == ["bad-pipe", "bad-pipe"]
    named, _ = await pipelines.page(ALICE, pipeline="ok-pipe")
    assert len(named) == 3
    everyone, _ = await pipelines.page(ROOT)
    assert everyone[0].id == theirs.id and len(everyone) == 6
    with pytest.raises(Exception) as caught:
        await pipelines.get(theirs.id, ALICE)
    assert caught.value.code == "run_not_found"


async def add_orphan_candidates(app) -> dict[str, str]:
    """Runs owned by a dead replica, a live replica and a dead process on this host."""
    now = utcnow()
    runners = {
        "dead": Runner(id="r-dead", host="elsewhere", pid=1, heartbeat_at=now - timedelta(hours=1)),
        "live": Runner(id="r-live", host="elsewhere", pid=1, heartbeat_at=now + timedelta(hours=1)),
        "gone": Runner(
            id="r-gone",
            host=app.kernel.pipelines.reaper.host,
            pid=_dead_pid(),
            heartbeat_at=now + timedelta(hours=1),
        ),
    }
    runs = {}
    async with app.kernel.db.session() as session:
        for key, runner in runners.items():
            session.add(runner)
            runs[key] = f"run-{key}"
            session.add(
                Run(
                    id=runs[key],
                    pipeline="p",
                    version="1",
                    content_hash="h",
                    status="running",
                    inputs={},
                    actor_id="alice",
                    actor={},
                    owner=runner.id,
                    created_at=now,
                    started_at=now,
                )
            )
    return runs


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


async def test_the_reaper_fails_only_truly_orphaned_runs(make_app, database_url):
    async with make_app(database_url=database_url) as app:
        runs = await add_orphan_candidates(app)
    # a restart: it reaps on start
    async with make_app(database_url=database_url) as app, app.kernel.db.session() as session:
        found = {run.id: run for run in await session.scalars(select(Run))}
        runner_ids = set(await session.scalars(select(Runner.id)))
    assert found[runs["dead"]].status == "failed"
    assert found[runs["dead"]].error["code"] == "orphaned"
    assert found[runs["gone"]].status == "failed"
    assert found[runs["live"]].status == "running"
    assert "r-live" in runner_ids and not {"r-dead", "r-gone"} & runner_ids


async def test_step_rows_hold_inputs_outputs_logs_and_attempts(db_app):
    pipelines = db_app.kernel.pipelines
    key = f"rows-{db_app.kernel.db.dialect}"
    run = await pipelines.run(
        pipeline({"id": "f", "uses": "test.flaky", "with": {"key": key, "failures": 1}}),
        actor=ALICE,
    )
    await pipelines.store.flush()
    async with db_app.kernel.db.session() as session:
        row = await session.get(StepRun, (run.id, "f"))
    assert row.status == "succeeded" and row.attempts == 2
    assert row.inputs == {"key": key, "failures": 1} and row.outputs == {"calls": 2}
    assert "attempt 1 failed" in row.logs and row.duration_ms >= 0
