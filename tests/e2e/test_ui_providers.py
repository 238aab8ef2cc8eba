"""Admin → Connections and Models in a real browser, against a local OpenAI-compatible
server started by the test."""

from __future__ import annotations

import pytest
from e2e_support import sign_in
from e2e_upstream import API_KEY, Upstream, running
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"


@pytest.fixture
def upstream():
    with running(Upstream(models=["e2e-chat", "e2e-embed"])) as served:
        yield served


def test_admin_adds_a_connection_checks_it_and_sees_its_models(
    server, admin_api, upstream, page, snap
):
    sign_in(page, server.url + "/admin/connections", ADMIN)
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    page.get_by_role("button", name="Add connection").click()
    dialog = page.get_by_role("dialog", name="Add connection")
    dialog.get_by_label("Type").select_option("openai")
    dialog.get_by_label("Name").fill("e2e-upstream")
    dialog.get_by_label("Base URL").fill(upstream.base_url)
    dialog.get_by_label("API key").fill(API_KEY)
    dialog.get_by_label("Model id prefix").fill("e2e/")
    dialog.get_by_role("button", name="Add connection").click()
    expect(dialog).to_be_hidden()

    card = page.locator("section[data-connection='e2e-upstream']")
    expect(card.get_by_test_id("key-state")).to_have_text("Key set")
    assert API_KEY not in page.content()  # the key is write-only

    card.get_by_role("button", name="Check e2e-upstream").click()
    result = card.get_by_test_id("check-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("2 models")
    expect(result).to_contain_text("e2e/e2e-chat")
    snap(page, "admin-connections")

    page.get_by_role("link", name="Models").first.click()
    row = page.locator("tr[data-model='e2e/e2e-chat']")
    expect(row).to_contain_text("e2e-upstream")
    expect(row).to_contain_text("chat")
    expect(page.locator("tr[data-model='e2e/e2e-embed']")).to_contain_text("embeddings")
    snap(page, "admin-models")

    # a disabled connection's models leave the list at once
    page.get_by_role("link", name="Connections").first.click()
    page.get_by_label("Enable e2e-upstream").uncheck()
    expect(page.get_by_label("Enable e2e-upstream")).not_to_be_checked()
    page.get_by_role("link", name="Models").first.click()
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
    expect(page.locator("tr[data-model='e2e/e2e-chat']")).to_have_count(0)


def test_a_failing_check_shows_the_upstreams_reason(server, admin_api, upstream, page):
    made = admin_api.post(
        "/api/v1/connections",
        json={
            "name": "wrong-key",
            "type": "openai",
            "base_url": upstream.base_url,
            "api_key": "not-the-key",
        },
    )
    assert made.status_code == 201, made.text
    sign_in(page, server.url + "/admin/connections", ADMIN)
    card = page.locator("section[data-connection='wrong-key']")
    card.get_by_role("button", name="Check wrong-key").click()
    result = card.get_by_test_id("check-result")
    expect(result).to_have_attribute("data-ok", "false")
    expect(result).to_contain_text("upstream_unauthorized")

    # a new key replaces the old one; the field is never filled from the server
    card.get_by_role("button", name="Edit wrong-key").click()
    dialog = page.get_by_role("dialog", name="Edit wrong-key")
    expect(dialog.get_by_label("API key")).to_have_value("")
    dialog.get_by_label("API key").fill(API_KEY)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    card.get_by_role("button", name="Check wrong-key").click()
    expect(card.get_by_test_id("check-result")).to_have_attribute("data-ok", "true")

    card.get_by_role("button", name="Delete wrong-key").click()
    page.get_by_role("dialog", name="Delete").get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0)
