"""The notebook-style run view in a real browser, against runs of the shipped pipelines."""

from __future__ import annotations

import json

import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

HOSTILE = "**friend** <img src=x onerror=alert(1)> <script>alert(2)</script>"


def start(client, pipeline: str, inputs: dict) -> dict:
    response = client.post(f"/api/v1/pipelines/{pipeline}/runs?wait=true", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    return response.json()


def test_run_view_shows_each_step_as_a_cell_with_the_graph(server, admin_api, page, snap):
    run = start(admin_api, "example-brief", {"topic": "release notes", "points": ["fast", "safe"]})
    assert run["status"] == "succeeded"
    sign_in(page, f"{server.url}/runs/{run['id']}", "admin@example.org")
    expect(page.get_by_role("heading", name="example-brief")).to_be_visible()
    for step in ("title", "body", "pause", "assemble"):
        cell = page.locator(f"article[data-step='{step}']")
        expect(cell).to_have_attribute("data-status", "succeeded")
    expect(page.locator("article[data-step='no_points']")).to_have_attribute(
        "data-status", "skipped"
    )
    title = page.locator("article[data-step='title']")
    expect(title).to_contain_text("Brief: RELEASE NOTES")
    expect(title).to_contain_text("core.template")
    expect(page.get_by_role("img", name="Pipeline graph")).to_be_visible()
    expect(page.get_by_role("region", name="Run outputs")).to_contain_text("2 point(s): fast; safe")
    snap(page, "run-view", full_page=True)

    page.get_by_role("link", name="All runs").click()
    expect(page.locator(f"tr[data-run='{run['id']}']")).to_be_visible()
    snap(page, "runs")


def test_a_failed_step_shows_its_error(server, admin_api, page):
    run = start(admin_api, "example-fallback", {})
    sign_in(page, f"{server.url}/runs/{run['id']}", "admin@example.org")
    risky = page.locator("article[data-step='risky']")
    expect(risky).to_have_attribute("data-status", "failed")
    expect(risky.get_by_role("alert")).to_contain_text("the risky step failed")


def test_markup_in_step_output_is_shown_as_text_and_never_runs(server, admin_api, page):
    run = start(admin_api, "example-hello", {"name": HOSTILE})
    sign_in(page, f"{server.url}/runs/{run['id']}", "admin@example.org")
    cell = page.locator("article[data-step='greet']")
    expect(cell).to_contain_text("<img src=x onerror=alert(1)>")
    expect(cell).to_contain_text("<script>alert(2)</script>")
    expect(cell.locator("strong")).to_have_text("friend")  # the markdown itself renders
    assert cell.locator("img, script").count() == 0
    # the autouse fixture fails the test if any alert() ran


def test_a_run_started_in_the_browser_updates_live(server, admin_api, page):
    sign_in(page, server.url + "/runs", "admin@example.org")
    page.get_by_role("button", name="Start a run").click()
    dialog = page.get_by_role("dialog", name="Start a run")
    dialog.get_by_label("Pipeline").select_option("example-brief")
    # long enough that a loaded machine still shows the page before the wait is over
    inputs = {"topic": "live", "points": ["one"], "pause": 12, "require_points": False}
    dialog.get_by_label("Inputs (JSON)").fill(json.dumps(inputs))
    dialog.get_by_role("button", name="Run").click()
    expect(page.get_by_role("heading", name="example-brief")).to_be_visible()
    pause = page.locator("article[data-step='pause']")
    expect(pause).to_have_attribute("data-status", "running")
    expect(page.locator("article[data-step='assemble']")).to_have_attribute(
        "data-status", "succeeded", timeout=30_000
    )
    expect(page.get_by_role("region", name="Run outputs")).to_contain_text("LIVE")


def test_admin_sees_the_installed_pipelines(server, admin_api, page, snap):
    sign_in(page, server.url + "/admin/pipelines", "admin@example.org")
    expect(page.locator("li[data-pipeline='example-hello']")).to_contain_text("Greets someone")
    snap(page, "admin-pipelines")


def test_cancel_then_resume_from_the_run_view(server, admin_api, page):
    response = admin_api.post(
        "/api/v1/pipelines/example-brief/runs", json={"inputs": {"topic": "slow", "pause": 30}}
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    sign_in(page, f"{server.url}/runs/{run_id}", "admin@example.org")
    expect(page.locator("article[data-step='pause']")).to_have_attribute("data-status", "running")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("article[data-step='pause']")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("heading", name="example-brief")).to_contain_text("Cancelled")
    page.get_by_role("button", name="Resume").click()
    expect(page).not_to_have_url(f"{server.url}/runs/{run_id}")
    resumed = page.url.rsplit("/", 1)[-1]
    expect(page.locator("article[data-step='pause']")).to_have_attribute("data-status", "running")
    admin_api.post(f"/api/v1/runs/{resumed}/cancel")
