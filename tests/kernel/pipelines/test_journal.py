"""Run records through the journal: batched, one insert when a run ended before its
batch, insert then update otherwise, kept in memory while the database is down, and
always read back by this process (reads flush first).

The journal is exercised through the kernel's call recorder (``kernel.pipelines.calls``)
and the runner, the two ways runs are recorded."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from notewell.kernel.actor import SYSTEM, Actor
from notewell.kernel.pipelines import CallPipeline, PipelineSpec
from notewell.kernel.pipelines.records import VALUE_CAP_BYTES, Run, RunBlob

ALICE = Actor(id="alice", kind="api_key", roles=frozenset({"user"}))
PIPELINE = CallPipeline(
    "openai-chat", "1", "hash-for-tests", {"name": "openai-chat"}, "complete", "openai_api.complete"
)


async def stored_runs(app) -> int:
    """Run rows in the database now, without flushing the journal first."""
    async with app.kernel.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Run)))


async def test_a_call_that_ends_before_its_batch_is_one_final_row(app):
    calls, journal = app.kernel.pipelines.calls, app.kernel.pipelines.store.journal
    before = await stored_runs(app)
    call = calls.begin(PIPELINE, {"request": {"model": "m"}}, ALICE)
    calls.end(call, status="succeeded", outputs={"content": "hi"})
    assert journal.pending == 1 and await stored_runs(app) == before  # queued, not written
    run = await app.kernel.pipelines.get(call.id, SYSTEM)  # a read flushes first
    assert run.status == "succeeded" and run.outputs == {"content": "hi"}
    assert run.actor_id == "alice" and run.pipeline == "openai-chat"
    assert [(s.step_id, s.status) for s in run.steps] == [("complete", "succeeded")]
    assert journal.pending == 0 and await stored_runs(app) == before + 1


async def test_times_read_back_exactly_as_recorded(app):
    calls = app.kernel.pipelines.calls
    call = calls.begin(PIPELINE, {"request": {}}, ALICE)
    calls.end(call, status="succeeded", outputs={})
    run = await app.kernel.pipelines.get(call.id, SYSTEM)
    assert run.created_at == run.started_at == call.started_at  # to the microsecond, in UTC
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.finished_at.utcoffset() is not None
    [step] = run.steps
    assert (step.started_at, step.finished_at) == (run.started_at, run.finished_at)


async def test_each_call_in_a_batch_keeps_its_own_actor(app):
    calls = app.kernel.pipelines.calls
    bob = Actor(id="bob", kind="user", name="Bob", roles=frozenset({"admin", "user"}))
    made = [calls.begin(PIPELINE, {"request": {}}, actor) for actor in (ALICE, bob, ALICE)]
    for call in made:
        calls.end(call, status="succeeded", outputs={})
    runs = [await app.kernel.pipelines.get(call.id, SYSTEM) for call in made]
    assert [run.actor for run in runs] == [ALICE.to_public(), bob.to_public(), ALICE.to_public()]
    assert runs[1].actor == {"id": "bob", "kind": "user", "name": "Bob", "roles": ["admin", "user"]}


async def test_a_long_call_is_inserted_running_then_finished(app):
    calls = app.kernel.pipelines.calls
    call = calls.begin(PIPELINE, {"request": {}}, ALICE)
    assert (await app.kernel.pipelines.get(call.id, SYSTEM)).status == "running"
    calls.end(call, status="failed", error={"code": "upstream_error", "message": "x"})
    run = await app.kernel.pipelines.get(call.id, SYSTEM)
    assert run.status == "failed" and run.error["code"] == "upstream_error"
    assert run.finished_at is not None and run.duration_ms is not None


async def test_records_wait_in_memory_while_the_database_is_down(app, monkeypatch):
    calls, journal = app.kernel.pipelines.calls, app.kernel.pipelines.store.journal
    call = calls.begin(PIPELINE, {"request": {}}, ALICE)
    calls.end(call, status="succeeded", outputs={"content": "kept"})
    real = app.kernel.db.session

    def down():
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(app.kernel.db, "session", down)
    await journal.flush()
    assert journal.pending == 1
    monkeypatch.setattr(app.kernel.db, "session", real)
    run = await app.kernel.pipelines.get(call.id, SYSTEM)
    assert run.outputs == {"content": "kept"} and len(run.steps) == 1


async def test_a_final_queued_while_its_insert_failed_is_written_after_it(app, monkeypatch):
    calls, journal = app.kernel.pipelines.calls, app.kernel.pipelines.store.journal
    call = calls.begin(PIPELINE, {"request": {}}, ALICE)
    real = app.kernel.db.session

    def down():
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(app.kernel.db, "session", down)
    await journal.flush()  # the insert fails and is kept
    calls.end(call, status="succeeded", outputs={"content": "late"})
    monkeypatch.setattr(app.kernel.db, "session", real)
    run = await app.kernel.pipelines.get(call.id, SYSTEM)
    assert run.status == "succeeded" and run.outputs == {"content": "late"}


async def test_many_runs_are_written_in_one_batch(make_app, monkeypatch):
    """Fifty runs of the runner cost one transaction of records, not fifty or a hundred."""
    spec = PipelineSpec.model_validate(
        {
            "name": "batched",
            "steps": [
                {"id": "a", "uses": "core.template", "with": {"template": "x"}},
                {
                    "id": "b",
                    "uses": "core.template",
                    "with": {"template": "${{ steps.a.outputs.text }}y"},
                },
            ],
        }
    )
    async with make_app(run_records_flush_s=60) as app:
        await count_batches(app, spec, monkeypatch)


async def count_batches(app, spec, monkeypatch):
    journal = app.kernel.pipelines.store.journal
    await journal.flush()
    transactions = 0
    real = app.kernel.db.session

    def counting():
        nonlocal transactions
        transactions += 1
        return real()

    monkeypatch.setattr(app.kernel.db, "session", counting)
    ids = [(await app.kernel.pipelines.run(spec, actor=SYSTEM)).id for _ in range(50)]
    await journal.flush()
    assert transactions == 1
    monkeypatch.setattr(app.kernel.db, "session", real)
    runs = [await app.kernel.pipelines.get(run_id, SYSTEM) for run_id in ids]
    assert {run.status for run in runs} == {"succeeded"}
    assert all(len(run.steps) == 2 for run in runs)


async def test_large_values_are_stored_by_reference(app):
    calls = app.kernel.pipelines.calls
    big = "x" * (VALUE_CAP_BYTES + 1)
    call = calls.begin(PIPELINE, {"request": {"prompt": big}}, ALICE)
    calls.end(call, status="succeeded", outputs={"content": "ok"})
    run = await app.kernel.pipelines.get(call.id, SYSTEM)
    assert set(run.inputs) == {"$blob", "bytes"}
    assert await app.kernel.pipelines.store.blob(call.id, run.inputs["$blob"]) == {
        "request": {"prompt": big}
    }
    async with app.kernel.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(RunBlob)) >= 1


async def test_a_large_answer_is_stored_once_for_the_run_and_its_step(app):
    calls = app.kernel.pipelines.calls
    big = {"content": "y" * (VALUE_CAP_BYTES + 1)}
    call = calls.begin(PIPELINE, {"request": {"prompt": "hi"}}, ALICE)
    calls.end(call, status="succeeded", outputs=big)
    run = await app.kernel.pipelines.get(call.id, SYSTEM)

    assert run.outputs == run.steps[0].outputs  # the same reference
    assert await app.kernel.pipelines.store.blob(call.id, run.outputs["$blob"]) == big
    async with app.kernel.db.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(RunBlob).where(RunBlob.run_id == call.id)
        )
    assert stored == 1


async def test_runs_still_going_and_runs_ended_are_written_in_the_same_batch(app):
    """A batch holds rows of different shapes: a run waiting in a step, runs already done."""
    waiting = PipelineSpec.model_validate(
        {"name": "waiting", "steps": [{"id": "w", "uses": "core.wait", "with": {"seconds": 30}}]}
    )
    quick = PipelineSpec.model_validate(
        {
            "name": "quick",
            "steps": [{"id": "q", "uses": "core.template", "with": {"template": "x"}}],
        }
    )
    pipelines = app.kernel.pipelines
    slow = await pipelines.start_run(waiting, actor=SYSTEM)
    done = [await pipelines.run(quick, actor=SYSTEM) for _ in range(3)]
    await pipelines.store.flush()
    assert pipelines.store.journal.pending == 0  # nothing kept back: the batch was written
    stored = await pipelines.store.get(slow.id)
    assert stored.status == "running" and stored.finished_at is None
    assert {(await pipelines.store.get(run.id)).status for run in done} == {"succeeded"}
    await pipelines.cancel(slow.id, SYSTEM)
    await slow.wait()
    assert (await pipelines.store.get(slow.id)).status == "cancelled"
