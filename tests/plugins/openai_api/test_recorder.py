"""Run records of API calls: batched, one insert when the call ended before its batch,
insert then update otherwise, kept in memory while the database is down."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from notewell.kernel.actor import SYSTEM, Actor
from notewell.plugins.openai_api.recorder import Pipeline, RunRecorder

ALICE = Actor(id="alice", kind="api_key", roles=frozenset({"user"}))
PIPELINE = Pipeline(
    "openai-chat", "1", "hash-for-tests", {"name": "openai-chat"}, "complete", "openai_api.complete"
)


def recorder_for(app) -> RunRecorder:
    return RunRecorder(app.kernel.db, app.kernel, "runner-x", interval=60, batch=1000, backlog=100)


async def test_a_call_that_ends_before_its_batch_is_one_final_row(app):
    recorder = recorder_for(app)
    ticket = recorder.begin(PIPELINE, {"request": {"model": "m"}}, 20, ALICE)
    recorder.end(ticket, status="succeeded", outputs={"content": "hi"}, size_hint=2)
    await recorder.flush()
    run = await app.kernel.pipelines.get(ticket.id, SYSTEM)
    assert run.status == "succeeded" and run.outputs == {"content": "hi"}
    assert run.actor_id == "alice" and run.pipeline == "openai-chat"
    assert [(s.step_id, s.status) for s in run.steps] == [("complete", "succeeded")]


async def test_a_long_call_is_inserted_running_then_finished(app):
    recorder = recorder_for(app)
    ticket = recorder.begin(PIPELINE, {"request": {}}, 2, ALICE)
    await recorder.flush()
    assert (await app.kernel.pipelines.get(ticket.id, SYSTEM)).status == "running"
    recorder.end(ticket, status="failed", error={"code": "upstream_error", "message": "x"})
    await recorder.flush()
    run = await app.kernel.pipelines.get(ticket.id, SYSTEM)
    assert run.status == "failed" and run.error["code"] == "upstream_error"
    assert run.finished_at is not None and run.duration_ms is not None


async def test_records_wait_in_memory_while_the_database_is_down(app, monkeypatch):
    recorder = recorder_for(app)
    ticket = recorder.begin(PIPELINE, {"request": {}}, 2, ALICE)
    recorder.end(ticket, status="succeeded", outputs={"content": "kept"})
    real = app.kernel.db.session

    def down():
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(app.kernel.db, "session", down)
    await recorder.flush()
    monkeypatch.setattr(app.kernel.db, "session", real)
    await recorder.flush()
    run = await app.kernel.pipelines.get(ticket.id, SYSTEM)
    assert run.outputs == {"content": "kept"} and len(run.steps) == 1
