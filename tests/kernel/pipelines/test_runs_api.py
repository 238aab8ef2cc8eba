"""The runs API over HTTP: who sees what, starting, waiting, listing, cancelling,
resuming, large values, and the problem+json errors."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from stepkit import Sleeper

from notewell.testing.actors import as_actor

ALICE, BOB, ROOT = as_actor("alice"), as_actor("bob"), as_actor("root", "admin")

FILES = {
    "hello.yaml": """
        name: hello
        inputs:
          who: {type: string}
        steps:
          - id: greet
            uses: core.template
            with: {template: "Hello, {who}!", values: {who: "${{ inputs.who }}"}}
        outputs:
          text: ${{ steps.greet.outputs.text }}
    """,
    "sleepy.yaml": """
        name: sleepy
        steps:
          - id: nap
            uses: test.sleep
    """,
    "shaky.yaml": """
        name: shaky
        inputs:
          key: {type: string}
        steps:
          - id: first
            uses: test.add
            with: {a: 1}
          - id: flaky
            uses: test.flaky
            needs: first
            retry: {attempts: 1}
            with: {key: "${{ inputs.key }}"}
    """,
    "big.yaml": """
        name: big
        steps:
          - id: big
            uses: test.big
            with: {size: 300000}
    """,
    "broken.yaml": """
        name: broken
        steps:
          - id: x
            uses: test.nope
    """,
}


@pytest.fixture
def settings(settings, tmp_path):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return settings.model_copy(update={"pipeline_dirs": [folder]})


async def start(client, name, inputs=None, headers=ALICE, wait=False):
    path = f"/api/v1/pipelines/{name}/runs" + ("?wait=true" if wait else "")
    return await client.post(path, json={"inputs": inputs or {}}, headers=headers)


async def finished(client, run_id, headers=ALICE):
    for _ in range(1000):
        body = await (await client.get(f"/api/v1/runs/{run_id}", headers=headers)).get_json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not end")


async def test_users_see_runnable_pipelines_and_admins_see_problems(client):
    users = await (await client.get("/api/v1/pipelines", headers=ALICE)).get_json()
    admins = await (await client.get("/api/v1/pipelines", headers=ROOT)).get_json()
    names = {p["name"] for p in users["pipelines"]}
    assert {"hello", "sleepy", "example-hello"} <= names and "broken" not in names
    hello = next(p for p in users["pipelines"] if p["name"] == "hello")
    assert hello["inputs"] == {"who": {"type": "string"}} and "file" not in hello
    assert [s["id"] for s in hello["steps"]] == ["greet"]
    broken = next(p for p in admins["pipelines"] if p["name"] == "broken")
    assert broken["runnable"] is False and broken["issues"]


async def test_anonymous_callers_are_turned_away(client):
    response = await client.get("/api/v1/runs")
    assert response.status_code == 401


async def test_start_answers_202_and_the_run_ends_succeeded(client):
    response = await start(client, "hello", {"who": "Ada"})
    assert response.status_code == 202
    body = await response.get_json()
    assert body["pipeline"] == "hello" and body["actor_id"] == "alice"
    done = await finished(client, body["id"])
    assert done["status"] == "succeeded"
    assert done["outputs"] == {"text": "Hello, Ada!"}
    assert [s["step_id"] for s in done["steps"]] == ["greet"]


async def test_wait_true_answers_with_the_finished_run(client):
    response = await start(client, "hello", {"who": "Bo"}, wait=True)
    assert response.status_code == 200
    assert (await response.get_json())["outputs"] == {"text": "Hello, Bo!"}


async def test_bad_inputs_are_a_422_and_record_nothing(client):
    response = await start(client, "hello", {"who": 7, "extra": True})
    assert response.status_code == 422
    body = await response.get_json()
    assert body["code"] == "invalid_inputs"
    assert {e["field"] for e in body["errors"]} == {"who", "extra"}
    runs = await (await client.get("/api/v1/runs", headers=ALICE)).get_json()
    assert runs["runs"] == []


async def test_unknown_pipelines_are_404_and_invalid_ones_422(client):
    response = await start(client, "nope")
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "pipeline_not_found"
    response = await start(client, "broken")
    assert response.status_code == 422
    body = await response.get_json()
    assert body["code"] == "invalid_pipeline"
    assert body["errors"][0]["line"] == 5  # `uses: test.nope` (the text starts with a newline)


async def test_users_see_only_their_runs_and_admins_see_all(client):
    mine = await (await start(client, "hello", {"who": "a"}, wait=True)).get_json()
    theirs = await (await start(client, "hello", {"who": "b"}, BOB, wait=True)).get_json()
    other = await client.get(f"/api/v1/runs/{theirs['id']}", headers=ALICE)
    assert other.status_code == 404
    assert (await other.get_json())["code"] == "run_not_found"
    listed = await (await client.get("/api/v1/runs", headers=ALICE)).get_json()
    assert [r["id"] for r in listed["runs"]] == [mine["id"]]
    everything = await (await client.get("/api/v1/runs", headers=ROOT)).get_json()
    assert [r["id"] for r in everything["runs"]] == [theirs["id"], mine["id"]]
    assert (await client.get(f"/api/v1/runs/{theirs['id']}", headers=ROOT)).status_code == 200


async def test_list_pages_with_a_cursor_and_filters(client):
    ids = [
        (await (await start(client, "hello", {"who": str(i)}, wait=True)).get_json())["id"]
        for i in range(3)
    ]
    first = await (await client.get("/api/v1/runs?limit=2", headers=ALICE)).get_json()
    second = await (
        await client.get(f"/api/v1/runs?limit=2&cursor={first['next_cursor']}", headers=ALICE)
    ).get_json()
    assert [r["id"] for r in first["runs"] + second["runs"]] == ids[::-1]
    assert second["next_cursor"] is None
    failed = await (await client.get("/api/v1/runs?status=failed", headers=ALICE)).get_json()
    assert failed["runs"] == []
    bad = await client.get("/api/v1/runs?limit=0", headers=ALICE)
    assert bad.status_code == 422


async def test_tracebacks_are_shown_to_admins_only(client):
    failed = await (await start(client, "shaky", {"key": "api-tb"}, wait=True)).get_json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "step_failed"
    assert failed["traceback"] is None
    admin_view = await (await client.get(f"/api/v1/runs/{failed['id']}", headers=ROOT)).get_json()
    assert "ConnectionError" in admin_view["traceback"]
    assert any(s["traceback"] for s in admin_view["steps"])


async def test_cancel_stops_a_running_run_once(client):
    body = await (await start(client, "sleepy")).get_json()
    await asyncio.wait_for(Sleeper.started.setdefault(body["id"], asyncio.Event()).wait(), 30)
    live = await (await client.get(f"/api/v1/runs/{body['id']}", headers=ALICE)).get_json()
    assert live["status"] == "running"
    assert [(s["step_id"], s["status"]) for s in live["steps"]] == [("nap", "running")]
    assert (await client.post(f"/api/v1/runs/{body['id']}/cancel", headers=BOB)).status_code == 404
    response = await client.post(f"/api/v1/runs/{body['id']}/cancel", headers=ALICE)
    assert response.status_code == 202
    assert (await response.get_json())["status"] == "cancelled"
    again = await client.post(f"/api/v1/runs/{body['id']}/cancel", headers=ALICE)
    assert again.status_code == 409
    assert (await again.get_json())["code"] == "run_not_active"


async def test_resume_starts_a_linked_run_that_reuses_earlier_steps(client):
    failed = await (await start(client, "shaky", {"key": "api-resume"}, wait=True)).get_json()
    assert (
        await client.post(f"/api/v1/runs/{failed['id']}/resume", headers=BOB)
    ).status_code == 404
    response = await client.post(f"/api/v1/runs/{failed['id']}/resume", headers=ALICE)
    assert response.status_code == 202
    resumed = await finished(client, (await response.get_json())["id"])
    assert resumed["resumed_from"] == failed["id"] and resumed["status"] == "succeeded"
    assert {s["step_id"]: s["status"] for s in resumed["steps"]} == {
        "first": "reused",
        "flaky": "succeeded",
    }
    done = await client.post(f"/api/v1/runs/{resumed['id']}/resume", headers=ALICE)
    assert done.status_code == 409
    assert (await done.get_json())["code"] == "run_not_resumable"


async def test_large_values_are_fetched_by_reference(client):
    run = await (await start(client, "big", wait=True)).get_json()
    ref = run["steps"][0]["outputs"]
    assert set(ref) == {"$blob", "bytes"}
    value = await client.get(f"/api/v1/runs/{run['id']}/values/{ref['$blob']}", headers=ALICE)
    assert (await value.get_json())["value"]["text"] == "x" * 300_000
    hidden = await client.get(f"/api/v1/runs/{run['id']}/values/{ref['$blob']}", headers=BOB)
    assert hidden.status_code == 404


@pytest.mark.parametrize("name", ["example-hello", "example-brief", "example-fallback"])
async def test_the_shipped_example_pipelines_run(client, name):
    inputs = {"example-brief": {"topic": "pipelines", "points": ["one", "two"]}}.get(name, {})
    response = await start(client, name, inputs, wait=True)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "succeeded", body["error"]


async def test_admins_reload_changed_pipeline_files(client, settings):
    folder = settings.pipeline_dirs[0]
    assert (await start(client, "late", wait=True)).status_code == 404
    (folder / "late.yaml").write_text(textwrap.dedent(FILES["hello.yaml"]).replace("hello", "late"))
    assert (await client.post("/api/v1/pipelines/reload", headers=ALICE)).status_code == 403
    response = await client.post("/api/v1/pipelines/reload", headers=ROOT)
    assert response.status_code == 200
    assert (await response.get_json())["changed"] is True
    run = await start(client, "late", {"who": "Lu"}, wait=True)
    assert (await run.get_json())["outputs"] == {"text": "Hello, Lu!"}
