"""Several models in a real browser: one prompt answered side by side (columns that
stream, re-attach after a reload, and pick the branch the conversation continues
from), and answering again with another model."""

from __future__ import annotations

import re

import pytest
from e2e_support import sign_in
from e2e_upstream import Upstream, connected
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
CHAT_URL = re.compile(r".*/chat/[0-9a-z]+$")
LAYOUT_SHIFTS = """() => {
    window.layoutShift = 0;
    new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
            if (!entry.hadRecentInput) window.layoutShift += entry.value;
        }
    }).observe({ type: 'layout-shift' });
}"""


@pytest.fixture(scope="module")
def upstream(admin_api):
    """A local OpenAI-compatible server: two quick models and two that take seconds."""
    models = ["e2e-chat", "e2e-other", "e2e-slow-a", "e2e-slow-b"]
    upstream = Upstream(models=models, reply="A **plain** answer.", slow_pieces=24)
    with connected(admin_api, upstream, "e2e-compare-upstream") as served:
        yield served


def send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def columns(page):
    return page.get_by_role("region", name="Answers side by side").locator("[data-column]")


def test_two_models_answer_side_by_side_and_survive_a_reload(
    server, upstream, admin_api, page, snap
):
    sign_in(page, server.url + "/chat", ADMIN)
    page.get_by_label("Model", exact=True).select_option("e2e/e2e-slow-a")
    page.get_by_role("button", name="Compare with another model").click()
    page.get_by_label("Model 2", exact=True).select_option("e2e/e2e-slow-b")
    page.evaluate(LAYOUT_SHIFTS)
    send(page, "Compare yourselves.")
    expect(page).to_have_url(CHAT_URL)

    first, second = columns(page).nth(0), columns(page).nth(1)
    expect(columns(page)).to_have_count(2)
    expect(first.get_by_test_id("answer-model")).to_have_text("e2e-slow-a")
    expect(second.get_by_test_id("answer-model")).to_have_text("e2e-slow-b")
    # both stream at once, each into its own column, side by side
    expect(first.get_by_test_id("message-text")).to_contain_text("word3")
    expect(second.get_by_test_id("message-text")).to_contain_text("word3")
    left, right = first.bounding_box(), second.bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and right["x"] >= left["x"] + left["width"]
    assert page.evaluate("window.layoutShift") < 0.01
    for column in (first, second):
        expect(column.locator("article")).to_have_attribute("data-status", "streaming")

    page.reload()  # mid-answer: each column re-attaches to its own answer
    expect(columns(page)).to_have_count(2)
    for column in (first, second):
        article = column.locator("article")
        expect(article).to_have_attribute("data-status", "complete", timeout=60_000)
        expect(article.get_by_test_id("message-text")).to_contain_text("word23")
    assert "word23" in first.inner_text() and "word23" in second.inner_text()
    # the conversation continues from the first answer until another is picked
    expect(first).to_have_attribute("data-current", "true")
    expect(first.get_by_role("button", name="Continue here")).to_have_attribute(
        "aria-pressed", "true"
    )
    snap(page, "chat-side-by-side")

    second.get_by_role("button", name="Continue here").click()
    expect(second).to_have_attribute("data-current", "true")
    expect(first).to_have_attribute("data-current", "false")
    page.reload()
    expect(columns(page)).to_have_count(2)
    expect(columns(page).nth(1)).to_have_attribute("data-current", "true")
    for column in (columns(page).nth(0), columns(page).nth(1)):
        expect(column.locator("article")).to_have_attribute("data-status", "complete")
        expect(column.get_by_test_id("message-text")).to_contain_text("word23")

    # a follow-up goes to both models again, and continues from the picked answer
    picked = columns(page).nth(1).locator("article").get_attribute("data-message-id")
    send(page, "And now?")
    expect(page.get_by_role("region", name="Answers side by side")).to_have_count(2)
    chat_id = page.url.rsplit("/", 1)[1]
    path = admin_api.get(f"/api/v1/chats/{chat_id}").json()["messages"]
    assert [m["content"] for m in path][-2] == "And now?"
    assert path[-2]["parent_id"] == picked

    # each column stops on its own: the other one goes on to the end
    latest = page.get_by_role("region", name="Answers side by side").nth(1)
    stopped, going = latest.locator("article").nth(0), latest.locator("article").nth(1)
    expect(stopped.get_by_test_id("message-text")).to_contain_text("word2")
    stopped.get_by_role("button", name="Stop the answer by e2e-slow-a").click()
    expect(stopped).to_have_attribute("data-status", "stopped")
    expect(going).to_have_attribute("data-status", "streaming")
    expect(going).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(going.get_by_test_id("message-text")).to_contain_text("word23")
    assert "word23" not in stopped.inner_text()


def test_at_phone_width_the_answers_are_stacked(server, upstream, admin_api, new_page):
    chat = admin_api.post("/api/v1/chats", json={"title": "Pocket compare"}).json()
    sent = admin_api.post(
        f"/api/v1/chats/{chat['id']}/messages",
        json={
            "content": "Both, please.",
            "models": ["e2e/e2e-chat", "e2e/e2e-other"],
            "stream": False,
        },
    )
    assert sent.status_code == 201, sent.text
    page = new_page(390, 780)
    sign_in(page, f"{server.url}/chat/{chat['id']}", ADMIN)
    first, second = columns(page).nth(0), columns(page).nth(1)
    expect(second.get_by_test_id("message-text")).to_contain_text("A plain answer.")
    top, below = first.bounding_box(), second.bounding_box()
    assert below["y"] >= top["y"] + top["height"]
    assert abs(top["x"] - below["x"]) < 2


def test_answer_again_with_another_model(server, upstream, page):
    sign_in(page, server.url + "/chat", ADMIN)
    page.get_by_label("Model", exact=True).select_option("e2e/e2e-chat")
    send(page, "Who are you?")
    answer = page.locator("article[data-role='assistant']").first
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer).to_have_accessible_name("Answer by e2e-chat")

    # the menu works from the keyboard: it opens on its first model, Esc closes it
    trigger = answer.get_by_role("button", name="Answer again with another model")
    trigger.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Answer again with")
    expect(menu).to_be_visible()
    expect(trigger).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    page.keyboard.press("End")
    expect(menu.get_by_role("menuitem").last).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(trigger).to_be_focused()

    page.keyboard.press("ArrowDown")
    item = menu.get_by_role("menuitem", name="e2e-other")
    for _ in range(len(upstream.models) + 2):  # ↓ until it is on the other model
        if item.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    expect(answer.get_by_test_id("branch-position")).to_have_text("2/2")
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer).to_have_accessible_name("Answer by e2e-other")
    expect(answer.get_by_test_id("answer-model")).to_have_text("e2e-other")
    assert upstream.requests[-1]["model"] == "e2e-other"

    page.reload()
    answer = page.locator("article[data-role='assistant']").first
    expect(answer).to_have_accessible_name("Answer by e2e-other")
    answer.get_by_role("button", name="Previous version").click()
    expect(answer).to_have_accessible_name("Answer by e2e-chat")
