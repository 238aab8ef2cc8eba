"""Chat in a real browser: streaming from the embedded model, re-attaching after a
reload, privacy between users, markup in answers shown as text, the run behind an
answer, live updates across tabs, branches, stopping, deleting with undo, sharing."""

from __future__ import annotations

import re

import httpx
import pytest
from e2e_support import PASSWORD, sign_in
from e2e_upstream import Upstream, connected
from playwright.sync_api import expect

from notewell.testing import service_unavailable

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
LOCAL_MODEL = "local/smollm2-135m-instruct"
HOSTILE = "Look: <img src=x onerror=alert(1)> and <script>alert(2)</script> **bold**"
CHAT_URL = re.compile(r".*/chat/[0-9a-z]+$")


@pytest.fixture(scope="module")
def upstream(admin_api):
    """A local OpenAI-compatible server, connected as `e2e/…` models."""
    upstream = Upstream(models=["e2e-chat", "e2e-slow"], reply=HOSTILE)
    with connected(admin_api, upstream, "e2e-chat-upstream") as served:
        yield served


def answers(page):
    return page.locator("article[data-role='assistant']")


def send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def pick_model(page, ref: str) -> None:
    page.get_by_label("Model", exact=True).select_option(ref)


def test_the_embedded_model_streams_an_answer_that_survives_a_reload(server, admin_api, page, snap):
    models = admin_api.get("/api/v1/models").json()["data"]
    if LOCAL_MODEL not in [model["id"] for model in models]:
        service_unavailable("the embedded local chat model", RuntimeError("not installed"))
    sign_in(page, server.url + "/chat", ADMIN)
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
    send(page, "Write a long story about a cat who lives in Paris.")
    expect(page).to_have_url(CHAT_URL)
    answer = answers(page).first
    # streamed: the text shows while the answer is still being written
    page.wait_for_function(
        """() => {
            const a = document.querySelector("article[data-role='assistant']");
            return a && a.dataset.status === 'streaming'
                && a.querySelector("[data-testid='message-text']").textContent.trim().length > 20;
        }""",
        timeout=60_000,
    )
    partial = answer.get_by_test_id("message-text").inner_text()
    snap(page, "chat-streaming")

    page.reload()  # mid-answer: the page re-attaches to the answer being written
    expect(page.get_by_role("article", name="You")).to_contain_text("a cat who lives in Paris")
    expect(answer).to_have_attribute("data-status", "complete", timeout=90_000)
    final = answer.get_by_test_id("message-text").inner_text()
    assert len(final) > len(partial) > 20

    page.reload()
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer.get_by_test_id("message-text")).to_have_text(final)
    assert LOCAL_MODEL.split("/")[1].split("-")[0] in answer.get_attribute("aria-label").lower()
    snap(page, "chat-local")


RICH = """# Sorting in Python

## User

How do I sort a list of tuples by the second item?

## Assistant

Use `sorted` with a key:

```python
pairs = [("b", 2), ("a", 1)]
print(sorted(pairs, key=lambda pair: pair[1]))
```

| method | in place | returns |
|---|---|---|
| `sorted(xs)` | no | a new list |
| `xs.sort()` | yes | `None` |

It takes $O(n \\log n)$ time.
"""


def test_answers_render_highlighted_code_tables_and_math(server, admin_api, page, snap):
    imported = admin_api.post(
        "/api/v1/chats/import", content=RICH, headers={"Content-Type": "text/markdown"}
    )
    chat_id = imported.json()["data"][0]["id"]
    sign_in(page, f"{server.url}/chat/{chat_id}", ADMIN)
    answer = answers(page).first.get_by_test_id("message-text")
    expect(answer.locator("code.hljs .hljs-keyword").first).to_be_visible()
    expect(answer.get_by_role("button", name="Copy code")).to_be_visible()
    expect(answer.locator("table td").first).to_have_text("sorted(xs)")
    expect(answer.locator(".katex").first).to_be_visible()
    snap(page, "chat")


def test_another_user_cannot_see_my_chats(server, admin_api, new_page):
    secret = "# Secret launch plans\n\n## User\n\nThe code is 4711.\n\n## Assistant\n\nNoted.\n"
    imported = admin_api.post(
        "/api/v1/chats/import", content=secret, headers={"Content-Type": "text/markdown"}
    )
    assert imported.status_code == 201, imported.text
    chat_id = imported.json()["data"][0]["id"]

    mine = new_page()
    sign_in(mine, f"{server.url}/chat/{chat_id}", ADMIN)
    expect(mine.get_by_role("article", name="You")).to_contain_text("The code is 4711.")

    client = httpx.Client(base_url=server.url)
    email = "bob@example.org"
    client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "Bob"})
    users = admin_api.get("/api/v1/users", params={"q": email}).json()["items"]
    approved = admin_api.post(f"/api/v1/users/{users[0]['id']}/approve")
    assert approved.status_code == 200, approved.text

    theirs = new_page()
    sign_in(theirs, server.url + "/chat", email)
    expect(theirs.get_by_role("heading", name="What can I help with?")).to_be_visible()
    expect(theirs.get_by_role("list", name="Chats")).not_to_contain_text("Secret launch plans")
    theirs.get_by_label("Search chats").fill("4711")
    expect(theirs.get_by_text("No chats yet.")).to_be_visible()
    expect(theirs.get_by_role("list", name="In messages")).to_have_count(0)

    theirs.goto(f"{server.url}/chat/{chat_id}")  # the direct URL
    expect(theirs.get_by_role("heading", name="Chat not found")).to_be_visible()
    expect(theirs.locator("body")).not_to_contain_text("4711")
    expect(theirs.locator("body")).not_to_contain_text("Secret launch plans")


def test_markup_in_an_answer_is_shown_as_text_and_never_runs(server, upstream, page):
    sign_in(page, server.url + "/chat", ADMIN)
    pick_model(page, "e2e/e2e-chat")
    send(page, "Say something with markup.")
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "complete")
    text = answer.get_by_test_id("message-text")
    expect(text).to_contain_text("<img src=x onerror=alert(1)>")
    expect(text).to_contain_text("<script>alert(2)</script>")
    expect(text.locator("strong")).to_have_text("bold")  # the markdown itself renders
    assert text.locator("img, script").count() == 0
    page.reload()
    expect(answers(page).first.get_by_test_id("message-text")).to_contain_text("onerror=alert(1)")
    # the autouse fixture fails the test if any alert() ran


def test_an_answer_links_to_the_run_of_the_chat_pipeline(server, upstream, page):
    sign_in(page, server.url + "/chat", ADMIN)
    pick_model(page, "e2e/e2e-chat")
    send(page, "Which steps wrote this?")
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "complete")
    answer.get_by_role("link", name="Show the run that wrote this answer").click()
    expect(page).to_have_url(re.compile(r".*/runs/[0-9a-z]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("chat")
    cell = page.locator("article[data-step='answer']")
    expect(cell).to_have_attribute("data-status", "succeeded")
    expect(cell).to_contain_text("chat.reply")
    expect(cell).to_contain_text("e2e/e2e-chat")


def test_other_tabs_update_live(server, upstream, browser, page):
    sign_in(page, server.url + "/chat", ADMIN)
    pick_model(page, "e2e/e2e-chat")
    send(page, "First message from tab one.")
    expect(answers(page).first).to_have_attribute("data-status", "complete")
    chat_url = page.url

    other = page.context.new_page()  # the same person in a second tab
    other.goto(chat_url)
    expect(other.get_by_role("article", name="You")).to_have_count(1)
    send(page, "Second message from tab one.")
    expect(other.get_by_role("article", name="You")).to_have_count(2)
    expect(other.locator("article[data-role='assistant']").nth(1)).to_have_attribute(
        "data-status", "complete"
    )
    expect(other.locator("article[data-role='assistant']").nth(1)).to_contain_text("bold")

    page.get_by_role("button", name=re.compile("^Rename the chat")).click()
    page.get_by_label("Title", exact=True).fill("Renamed in tab one")
    page.get_by_label("Title", exact=True).press("Enter")
    expect(other.get_by_role("heading", name="Renamed in tab one")).to_be_visible()
    expect(other.get_by_role("list", name="Chats")).to_contain_text("Renamed in tab one")
    other.close()


def test_regenerate_edit_and_branch_navigation(server, upstream, page, snap):
    sign_in(page, server.url + "/chat", ADMIN)
    pick_model(page, "e2e/e2e-chat")
    send(page, "Branch me.")
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "complete")
    answer.hover()
    answer.get_by_role("button", name="Answer again", exact=True).click()
    expect(answer.get_by_test_id("branch-position")).to_have_text("2/2")
    expect(answer).to_have_attribute("data-status", "complete")
    answer.get_by_role("button", name="Previous version").click()
    expect(answer.get_by_test_id("branch-position")).to_have_text("1/2")

    prompt = page.get_by_role("article", name="You")
    prompt.hover()
    prompt.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit the message").fill("Branch me, edited.")
    page.get_by_role("button", name="Send as a new version").click()
    expect(prompt).to_contain_text("Branch me, edited.")
    expect(prompt.get_by_test_id("branch-position")).to_have_text("2/2")
    expect(answers(page).first).to_have_attribute("data-status", "complete")
    prompt.get_by_role("button", name="Previous version").click()
    expect(prompt).to_contain_text("Branch me.")
    expect(prompt.get_by_test_id("branch-position")).to_have_text("1/2")
    snap(page, "chat-branches")


LAYOUT_SHIFTS = """() => {
    window.layoutShift = 0;
    new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
            if (!entry.hadRecentInput) window.layoutShift += entry.value;
        }
    }).observe({ type: 'layout-shift' });
}"""


def test_streaming_does_not_shift_the_layout_and_stop_keeps_the_text(server, upstream, page):
    sign_in(page, server.url + "/chat", ADMIN)
    pick_model(page, "e2e/e2e-slow")
    page.evaluate(LAYOUT_SHIFTS)
    send(page, "Take your time.")
    answer = answers(page).first
    expect(answer.get_by_test_id("message-text")).to_contain_text("word12")
    # shifts within 0.5 s of the key press (the page switching to the chat) do not count
    assert page.evaluate("window.layoutShift") < 0.01
    page.keyboard.press("Control+.")  # the stop shortcut
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer.get_by_test_id("message-note")).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.reload()
    expect(answers(page).first).to_have_attribute("data-status", "stopped")
    assert "word59" not in answers(page).first.inner_text()


def test_delete_can_be_undone_and_then_happens(server, admin_api, page):
    made = admin_api.post("/api/v1/chats", json={"title": "Doomed chat"}).json()
    sign_in(page, server.url + "/chat", ADMIN)
    item = page.locator(f"li[data-chat-id='{made['id']}']")
    item.get_by_role("button", name="Actions for Doomed chat").click()
    item.get_by_role("menuitem", name="Delete").click()
    expect(item).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(item).to_be_visible()
    assert admin_api.get(f"/api/v1/chats/{made['id']}").status_code == 200

    item.get_by_role("button", name="Actions for Doomed chat").click()
    item.get_by_role("menuitem", name="Delete").click()
    expect(item).to_have_count(0)
    page.wait_for_timeout(7000)  # the undo time
    assert admin_api.get(f"/api/v1/chats/{made['id']}").status_code == 404


def test_a_shared_link_shows_the_conversation_without_an_account(server, admin_api, new_page, snap):
    text = "# Shared story\n\n## User\n\nA *story*?\n\n## Assistant\n\nOnce upon a **time**."
    imported = admin_api.post(
        "/api/v1/chats/import", content=text, headers={"Content-Type": "text/markdown"}
    )
    chat_id = imported.json()["data"][0]["id"]
    page = new_page()
    sign_in(page, f"{server.url}/chat/{chat_id}", ADMIN)
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog", name="Share this chat")
    dialog.get_by_role("button", name="Create a link").click()
    link = dialog.get_by_label("Share link").input_value()
    assert "/shared/" in link
    snap(page, "chat-share")

    stranger = new_page()
    stranger.goto(link)
    expect(stranger.get_by_role("heading", name="Shared story")).to_be_visible()
    expect(stranger.locator("article[data-role='assistant'] strong")).to_have_text("time")
    snap(stranger, "chat-shared")

    dialog.get_by_role("button", name="Revoke the link").click()
    expect(dialog.get_by_role("button", name="Create a link")).to_be_visible()
    stranger.reload()
    expect(stranger.get_by_role("heading", name="This link does not work")).to_be_visible()


def test_keyboard_shortcuts_focus_the_box_and_start_a_new_chat(server, admin_api, page):
    made = admin_api.post("/api/v1/chats", json={"title": "Shortcut chat"}).json()
    sign_in(page, f"{server.url}/chat/{made['id']}", ADMIN)
    expect(page.get_by_role("heading", name="Shortcut chat")).to_be_visible()
    page.get_by_label("Search chats").focus()
    page.keyboard.press("Shift+Escape")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(re.compile(r".*/chat$"))
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
    page.keyboard.press("Control+k")
    expect(page.get_by_label("Search chats")).to_be_focused()


def test_at_phone_width_the_chat_list_is_a_drawer(server, admin_api, new_page, snap):
    made = admin_api.post("/api/v1/chats", json={"title": "Pocket chat"}).json()
    page = new_page(390, 780)
    sign_in(page, server.url + "/chat", ADMIN)
    chat_list = page.get_by_role("complementary", name="Your chats")
    expect(chat_list).not_to_be_in_viewport()
    page.get_by_role("button", name="Show your chats").click()
    expect(chat_list).to_be_in_viewport()
    snap(page, "phone-chat-list")
    chat_list.locator(f"li[data-chat-id='{made['id']}'] a").click()
    expect(page.get_by_role("heading", name="Pocket chat")).to_be_visible()
    expect(chat_list).not_to_be_in_viewport()


def test_a_preset_made_in_settings_answers_in_the_chat(server, upstream, page, snap):
    sign_in(page, server.url + "/settings/presets", ADMIN)
    page.get_by_label("Name").fill("Pirate")
    page.get_by_label("Model", exact=True).select_option("e2e/e2e-chat")
    page.get_by_label("System prompt").fill("Talk like a pirate.")
    page.get_by_role("button", name="Create preset").click()
    expect(page.locator("li[data-preset='Pirate']")).to_contain_text("e2e/e2e-chat")
    snap(page, "settings-presets")

    page.get_by_role("link", name="Chat", exact=True).click()
    page.get_by_label("Model", exact=True).select_option(label="Pirate")
    send(page, "Ahoy?")
    expect(answers(page).first).to_have_attribute("data-status", "complete")
    sent = next(r for r in upstream.requests if r["messages"][-1]["content"] == "Ahoy?")
    assert sent["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
