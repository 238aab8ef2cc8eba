"""The runner: DAG order and concurrency, conditions, retries, timeouts, cancellation,
errors, resume, events and hooks — through the real service and database."""

from __future__ import annotations

import asyncio

import pytest
from stepkit import ALICE, ROOT, Add, Echo, Flaky, Sleeper, pipeline

from notewell.kernel import hookimpl
from notewell.kernel.app import create_app
from notewell.kernel.errors import StartupError
from notewell.kernel.events import Event
from notewell.kernel.pipelines import Step
from notewell.kernel.pipelines.errors import InvalidInputs, InvalidPipeline
from notewell.kernel.pipelines.records import RunRead, StepRunRead


def steps_by_id(run: RunRead) -> dict[str, StepRunRead]:
    return {step.step_id: step for step in run.steps or []}


async def test_outputs_flow_between_steps_and_into_the_pipeline_outputs(pipelines):
    spec = pipeline(
        {
            "id": "greet",
            "uses": "core.template",
            "with": {"template": "Hello, {who}!", "values": {"who": "${{ inputs.who }}"}},
        },
        {"id": "echo", "uses": "test.echo", "with": {"text": "${{ steps.greet.outputs.text }}"}},
        inputs={"who": {"type": "string"}},
        outputs={"greeting": "${{ steps.echo.outputs.text }}"},
    )
    run = await pipelines.run(spec, {"who": "Ada"}, actor=ALICE)
    assert run.status == "succeeded"
    assert run.outputs == {"greeting": "Hello, Ada!"}
    assert [s.status for s in run.steps] == ["succeeded", "succeeded"]
    assert steps_by_id(run)["echo"].inputs == {"text": "Hello, Ada!"}


async def test_independent_steps_run_at_the_same_time(pipelines):
    spec = pipeline(
        *[
            {"id": f"r{i}", "uses": "test.rendezvous", "with": {"expect": 3}, "timeout": 30}
            for i in range(3)
        ],
        {
            "id": "after",
            "uses": "test.add",
            "needs": ["r0", "r1", "r2"],
            "with": {"a": "${{ steps.r2.outputs.met }}"},
        },
    )
    run = await pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded", run.error
    assert steps_by_id(run)["after"].status == "succeeded"


async def test_a_false_condition_skips_the_step_and_its_dependents(pipelines):
    spec = pipeline(
        {"id": "maybe", "uses": "test.echo", "if": "${{ inputs.go }}", "with": {"text": "x"}},
        {"id": "child", "uses": "test.echo", "with": {"text": "${{ steps.maybe.outputs.text }}"}},
        {
            "id": "checker",
            "uses": "test.echo",
            "needs": ["maybe"],
            "if": "${{ steps.maybe.status == 'skipped' }}",
            "with": {"text": "was skipped"},
        },
        inputs={"go": {"type": "boolean", "default": False}},
    )
    run = await pipelines.run(spec, actor=ALICE)
    statuses = {s.step_id: s.status for s in run.steps}
    assert run.status == "succeeded"
    assert statuses == {"maybe": "skipped", "child": "skipped", "checker": "succeeded"}


async def test_class_retry_policy_retries_until_success(pipelines):
    spec = pipeline(
        {"id": "f", "uses": "test.flaky", "with": {"key": "class-retry", "failures": 2}}
    )
    run = await pipelines.run(spec, actor=ALICE)
    step = steps_by_id(run)["f"]
    assert run.status == "succeeded"
    assert step.attempts == 3
    assert "attempt 1 failed" in step.logs


async def test_yaml_retry_overrides_the_class_default(pipelines):
    spec = pipeline(
        {
            "id": "f",
            "uses": "test.flaky",
            "retry": {"attempts": 1},
            "with": {"key": "yaml-retry", "failures": 1},
        }
    )
    run = await pipelines.run(spec, actor=ALICE)
    assert run.status == "failed"
    assert steps_by_id(run)["f"].attempts == 1
    assert Flaky.calls["yaml-retry"] == 1


async def test_a_step_past_its_timeout_fails_with_step_timeout(pipelines):
    spec = pipeline({"id": "hang", "uses": "test.sleep", "timeout": "50ms"})
    run = await pipelines.run(spec, actor=ALICE)
    assert run.status == "failed"
    assert run.error["code"] == "step_timeout"
    assert run.error["step_id"] == "hang"
    assert steps_by_id(run)["hang"].error["code"] == "step_timeout"


async def test_a_raising_step_is_wrapped_once_with_its_id_and_type(pipelines):
    spec = pipeline({"id": "explode", "uses": "test.boom"})
    run = await pipelines.run(spec, actor=ROOT)
    assert run.status == "failed"
    assert run.error["code"] == "step_failed"
    assert run.error["type"] == "ValueError"
    assert run.error["message"] == "step 'explode' (test.boom) failed: ValueError: kaboom"
    assert "kaboom" in run.traceback and "Traceback" in run.traceback


async def test_tracebacks_are_for_admins_only(pipelines):
    run = await pipelines.run(pipeline({"id": "explode", "uses": "test.boom"}), actor=ALICE)
    assert run.error["code"] == "step_failed"
    assert run.traceback is None and run.steps[0].traceback is None


async def test_a_failing_step_cancels_its_running_siblings(pipelines):
    spec = pipeline(
        {"id": "slow", "uses": "test.sleep"},
        {"id": "explode", "uses": "test.boom", "needs": []},
        {"id": "never", "uses": "test.echo", "needs": ["explode"], "with": {"text": "x"}},
    )
    run = await pipelines.run(spec, actor=ALICE)
    statuses = {s.step_id: s.status for s in run.steps}
    assert run.status == "failed" and run.error["step_id"] == "explode"
    assert statuses == {"slow": "cancelled", "explode": "failed"}


async def test_continue_on_error_lets_the_run_succeed(pipelines):
    spec = pipeline(
        {"id": "explode", "uses": "test.boom", "continue_on_error": True},
        {
            "id": "after",
            "uses": "test.echo",
            "needs": ["explode"],
            "if": "${{ steps.explode.status == 'failed' }}",
            "with": {"text": "ok"},
        },
    )
    run = await pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded"
    assert {s.step_id: s.status for s in run.steps} == {"explode": "failed", "after": "succeeded"}


async def test_a_wrong_input_type_at_run_time_is_a_recorded_error(pipelines):
    spec = pipeline(
        {"id": "add", "uses": "test.add", "with": {"a": "${{ inputs.n }}"}},
        inputs={"n": {"type": "any"}},
    )
    run = await pipelines.run(spec, {"n": "not a number"}, actor=ALICE)
    assert run.status == "failed"
    assert run.error["code"] == "invalid_step_inputs"
    assert steps_by_id(run)["add"].inputs == {"a": "not a number"}


async def test_outputs_that_break_the_contract_fail_the_step(pipelines):
    run = await pipelines.run(pipeline({"id": "bad", "uses": "test.bad_outputs"}), actor=ALICE)
    assert run.error["code"] == "invalid_step_outputs"


async def test_cancelling_a_run_cancels_its_running_steps(pipelines):
    Sleeper.saw_cancel.clear()
    spec = pipeline({"id": "nap", "uses": "test.sleep"}, {"id": "nap2", "uses": "test.sleep"})
    handle = await pipelines.start_run(spec, actor=ALICE)
    await asyncio.wait_for(Sleeper.started.setdefault(handle.id, asyncio.Event()).wait(), 30)
    run = await pipelines.cancel(handle.id, ALICE)
    assert run.status == "cancelled"
    assert run.error["code"] == "run_cancelled"
    assert {s.status for s in run.steps} == {"cancelled"}
    assert sorted(Sleeper.saw_cancel) == ["nap", "nap2"]


async def test_resume_reuses_the_steps_that_succeeded(pipelines):
    spec = pipeline(
        {"id": "first", "uses": "test.add", "with": {"a": 40, "b": 1}},
        {
            "id": "shaky",
            "uses": "test.flaky",
            "retry": {"attempts": 1},
            "with": {"key": "resume-${{ steps.first.outputs.sum }}"},
        },
        outputs={"calls": "${{ steps.shaky.outputs.calls }}"},
    )
    Add.calls.clear()
    failed = await pipelines.run(spec, actor=ALICE)
    assert failed.status == "failed"
    handle = await pipelines.resume(failed.id, ALICE)
    await handle.wait()
    resumed = await pipelines.get(handle.id, ALICE)
    assert resumed.status == "succeeded"
    assert resumed.resumed_from == failed.id
    assert {s.step_id: s.status for s in resumed.steps} == {"first": "reused", "shaky": "succeeded"}
    assert Add.calls[(40, 1)] == 1
    assert resumed.outputs == {"calls": 2}


async def test_only_failed_or_cancelled_runs_resume(pipelines):
    run = await pipelines.run(
        pipeline({"id": "e", "uses": "test.echo", "with": {"text": "a"}}), actor=ALICE
    )
    with pytest.raises(Exception) as caught:
        await pipelines.resume(run.id, ALICE)
    assert caught.value.code == "run_not_resumable"


async def test_bad_inputs_are_refused_before_anything_is_recorded(pipelines):
    spec = pipeline(
        {"id": "e", "uses": "test.echo", "with": {"text": "${{ inputs.t }}"}},
        inputs={"t": {"type": "string"}},
    )
    with pytest.raises(InvalidInputs) as caught:
        await pipelines.start_run(spec, {"t": 3, "extra": 1}, actor=ALICE)
    fields = {problem["field"] for problem in caught.value.extra["errors"]}
    assert fields == {"t", "extra"}
    runs, _ = await pipelines.page(ALICE)
    assert runs == []


async def test_an_unknown_step_type_is_refused(pipelines):
    with pytest.raises(InvalidPipeline) as caught:
        await pipelines.start_run(pipeline({"id": "x", "uses": "test.nope"}), actor=ALICE)
    assert caught.value.extra["errors"][0]["code"] == "unknown_step"


async def test_every_transition_is_an_event_and_a_hook_call(app, pipelines, kit):
    seen: list[Event] = []

    async def collect(event: Event) -> None:
        seen.append(event)

    app.kernel.bus.subscribe(collect, "run.")
    spec = pipeline(
        {"id": "s", "uses": "test.stream", "with": {"count": 3}},  # streams: its type does
        {
            "id": "quiet",
            "uses": "test.stream",
            "stream": False,
            "with": {"count": 2},
            "needs": ["s"],
        },
        {"id": "e", "uses": "test.echo", "with": {"text": "done"}, "needs": ["quiet"]},
    )
    run = await pipelines.run(spec, actor=ALICE)
    for _ in range(100):
        if seen and seen[-1].topic == "run.finished":
            break
        await asyncio.sleep(0.01)
    topics = [event.topic for event in seen]
    assert topics == [
        "run.started",
        "run.step_started",
        "run.chunk",
        "run.chunk",
        "run.chunk",
        "run.step_finished",
        "run.step_started",  # quiet: its chunks are not published (`stream: false`)
        "run.step_finished",
        "run.step_started",
        "run.step_finished",
        "run.finished",
    ]
    assert {event.user_id for event in seen} == {"alice"}
    assert [event.data["chunk"] for event in seen if event.topic == "run.chunk"] == [
        {"token": "t0"},
        {"token": "t1"},
        {"token": "t2"},
    ]
    assert [r.id for r in kit.started] == [run.id] == [r.id for r in kit.finished]
    assert kit.finished[0].status == "succeeded"
    assert [step.step_id for _, step in kit.steps] == ["s", "quiet", "e"]
    assert isinstance(kit.steps[0][1], StepRunRead)


async def test_step_logs_are_kept_in_the_record(pipelines):
    run = await pipelines.run(
        pipeline({"id": "f", "uses": "test.flaky", "with": {"key": "logs", "failures": 0}}),
        actor=ALICE,
    )
    assert "INFO call 1 of logs (attempt 1)" in steps_by_id(run)["f"].logs


# -- the registry ------------------------------------------------------------------------


class Duplicate:
    """A plugin that registers a step name the step kit already uses."""

    __name__ = "duplicate"

    @hookimpl
    def register_steps(self):
        class OtherEcho(Echo):
            """Another echo."""

        return [OtherEcho]


class Broken:
    """A plugin whose step class breaks the contract."""

    __name__ = "broken_steps"

    @hookimpl
    def register_steps(self):
        class NoRun(Step):
            name = "broken.no_run"
            Inputs = Echo.Inputs
            Outputs = Echo.Outputs

        return [NoRun]


def test_two_plugins_with_one_step_name_stop_startup_naming_both(settings, kit):
    with pytest.raises(StartupError) as caught:
        create_app(settings, plugins=[kit, Duplicate()])
    assert "'test.echo'" in str(caught.value)
    assert "stepkit" in str(caught.value) and "duplicate" in str(caught.value)


def test_a_step_class_that_breaks_the_contract_stops_startup(settings):
    with pytest.raises(StartupError) as caught:
        create_app(settings, plugins=[Broken()])
    assert "broken_steps" in str(caught.value) and "async def run" in str(caught.value)


async def test_a_disabled_plugins_steps_are_not_found(app, pipelines):
    registry = pipelines.registry
    assert registry.info("test.echo").plugin == "stepkit"
    assert registry.info("test.crunch").heavy and registry.info("test.stream").streaming
    app.kernel.plugins.set_enabled("stepkit", False)
    try:
        assert "test.echo" not in registry and "core.template" in registry
        with pytest.raises(InvalidPipeline) as caught:
            await pipelines.start_run(
                pipeline({"id": "e", "uses": "test.echo", "with": {"text": "x"}}), actor=ALICE
            )
        assert caught.value.extra["errors"][0]["code"] == "unknown_step"
    finally:
        app.kernel.plugins.set_enabled("stepkit", True)


async def test_stopping_the_server_interrupts_the_runs_in_flight(make_app):
    async with make_app() as app:
        spec = pipeline({"id": "nap", "uses": "test.sleep"})
        handle = await app.kernel.pipelines.start_run(spec, actor=ALICE)
        await asyncio.wait_for(Sleeper.started.setdefault(handle.id, asyncio.Event()).wait(), 30)
    async with make_app() as app:
        run = await app.kernel.pipelines.get(handle.id, ALICE)
    assert run.status == "failed" and run.error["code"] == "interrupted"
    assert [step.status for step in run.steps] == ["cancelled"]


class BrokenObserver:
    """Raises in a run hook."""

    __name__ = "broken_observer"

    @hookimpl
    async def on_step_finished(self, run, step):
        raise RuntimeError("the observer broke")


async def test_an_observer_that_raises_does_not_break_the_run(make_app):
    async with make_app(extra_plugins=(BrokenObserver(),)) as app:
        spec = pipeline({"id": "e", "uses": "test.echo", "with": {"text": "x"}})
        run = await app.kernel.pipelines.run(spec, actor=ALICE)
    assert run.status == "succeeded"


async def test_a_step_launched_as_the_run_is_cancelled_never_executes(pipelines):
    Add.calls.clear()
    spec = pipeline(
        {"id": "stopper", "uses": "test.cancel_own_run"},
        {"id": "late", "uses": "test.add", "with": {"a": 7, "b": 7}},
    )
    run = await pipelines.run(spec, actor=ALICE)
    assert run.status == "cancelled"
    assert {s.step_id: s.status for s in run.steps} == {"stopper": "cancelled", "late": "cancelled"}
    assert Add.calls[(7, 7)] == 0


async def test_a_run_cancelled_before_it_starts_runs_nothing(pipelines):
    handle = await pipelines.start_run(
        pipeline({"id": "e", "uses": "test.echo", "with": {"text": "x"}}), actor=ALICE
    )
    handle.cancel()
    run = await handle.wait()
    assert run.status == "cancelled"
    assert (await pipelines.get(handle.id, ALICE)).steps == []
