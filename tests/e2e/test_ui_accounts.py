"""The web UI in a real browser: first run, sign-in, approval, admin pages, expiry."""

from __future__ import annotations

import re

import pytest
from e2e_support import PASSWORD, sign_in, sign_up
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_first_run_creates_the_admin_account_in_the_browser(fresh_server, page, snap):
    page.goto(fresh_server.url + "/")
    expect(page.get_by_role("heading", name="Create the admin account")).to_be_visible()
    snap(page, "first-run")
    sign_up(page, "Ada Admin", "ada@example.org")
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_be_visible()
    snap(page, "chat-new")
    me = fresh_server.signed_in("ada@example.org").get("/api/v1/auth/me").json()
    assert me["role"] == "admin"


def test_a_new_account_waits_until_an_admin_approves_it(server, new_page, snap):
    server.ensure_admin()
    newcomer = new_page()
    newcomer.goto(server.url + "/signup")
    expect(newcomer.get_by_role("heading", name="Create your account")).to_be_visible()
    sign_up(newcomer, "Bob Newcomer", "bob@example.org")
    expect(newcomer.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    snap(newcomer, "pending")

    admin = new_page()
    sign_in(admin, server.url + "/admin/users", "admin@example.org")
    row = admin.locator("tr[data-user='bob@example.org']")
    expect(row.get_by_role("combobox", name="Role of Bob Newcomer")).to_have_value("pending")
    snap(admin, "admin-users")
    row.get_by_role("button", name="Approve Bob Newcomer").click()
    expect(admin.get_by_text("Bob Newcomer can now sign in.")).to_be_visible()
    expect(row.get_by_role("combobox", name="Role of Bob Newcomer")).to_have_value("user")

    newcomer.get_by_role("button", name="Check again").click()
    expect(newcomer.get_by_role("heading", name="What can I help with?")).to_be_visible()
    # an approved user is not an admin: no administration links, no admin pages
    expect(newcomer.get_by_role("link", name="Users")).to_have_count(0)
    newcomer.goto(server.url + "/admin/plugins")
    expect(newcomer.get_by_role("heading", name="Page not found")).to_be_visible()


def test_sign_out_and_back_in(server, page):
    server.ensure_admin()
    sign_in(page, server.url + "/", "admin@example.org")
    page.get_by_role("button", name=re.compile("Account menu")).click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Notewell")).to_be_visible()
    assert "notewell_session" not in {c["name"] for c in page.context.cookies()}
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Notewell")).to_be_visible()
    sign_in(page, None, "admin@example.org")
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()


def test_a_failed_sign_in_shows_the_servers_reason(server, page, snap):
    server.ensure_admin()
    page.goto(server.url + "/signin")
    page.get_by_label("Email").fill("admin@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    detail = page.get_by_test_id("problem-detail")
    expect(detail).to_be_visible()
    answer = server.client().post(
        "/api/v1/auth/signin", json={"email": "admin@example.org", "password": "nope"}
    )
    assert answer.status_code == 401
    expect(detail).to_have_text(answer.json()["detail"])
    snap(page, "sign-in-error")


def test_admin_sees_the_plugin_list(server, page, snap):
    server.ensure_admin()
    sign_in(page, server.url + "/admin/plugins", "admin@example.org")
    table = page.get_by_role("table", name="Plugins")
    expect(table.locator("tr[data-plugin='auth']")).to_be_visible()
    expect(table.locator("tr[data-plugin='frontend']")).to_be_visible()
    # kernel defaults cannot be switched off
    expect(page.get_by_role("checkbox", name="Enable frontend")).to_be_disabled()
    snap(page, "admin-plugins", full_page=True)


def test_an_expired_session_asks_to_sign_in_again_and_keeps_the_input(server, page):
    server.ensure_admin()
    sign_in(page, server.url + "/settings/password", "admin@example.org")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("Repeat the new password").fill("a brand new passphrase")
    page.context.clear_cookies()  # the session ends behind the page's back
    page.get_by_role("button", name="Change password").click()
    dialog = page.get_by_role("dialog", name="Your session has expired")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("New password", exact=True)).to_have_value("a brand new passphrase")


def test_a_session_ended_elsewhere_asks_to_sign_in_again_at_once(server, page):
    server.ensure_admin()
    sign_in(page, server.url + "/runs", "admin@example.org")
    expect(page.get_by_role("img", name="Live updates connected")).to_be_visible()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    # the same session signed out from elsewhere: the page learns it over its socket,
    # without a request of its own
    elsewhere = server.client()
    elsewhere.cookies.update(cookies)
    response = elsewhere.post(
        "/api/v1/auth/signout", headers={"X-CSRF-Token": cookies["notewell_csrf"]}
    )
    assert response.status_code == 204
    dialog = page.get_by_role("dialog", name="Your session has expired")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    # a new socket, opened with the new session
    expect(page.get_by_role("img", name="Live updates connected")).to_be_visible()


def test_api_key_is_shown_once_and_works(server, page, snap):
    server.ensure_admin()
    sign_in(page, server.url + "/settings/keys", "admin@example.org")
    page.get_by_label("Key name").fill("laptop script")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-api-key").input_value()
    assert key
    snap(page, "settings-api-key")
    me = server.client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("laptop script")).to_be_visible()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)


def test_phone_width_hides_the_sidebar_behind_a_menu(server, new_page, snap):
    server.ensure_admin()
    phone = new_page(width=390, height=844)
    sign_in(phone, server.url + "/runs", "admin@example.org")
    sidebar_link = phone.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")
    expect(sidebar_link).not_to_be_in_viewport()
    phone.get_by_role("button", name="Open navigation").click()
    expect(sidebar_link).to_be_in_viewport()
    snap(phone, "phone-menu")
    sidebar_link.click()
    expect(phone.get_by_role("heading", name="Settings")).to_be_visible()
    expect(sidebar_link).not_to_be_in_viewport()


def test_admin_creates_a_group_and_adds_a_member(server, page, snap):
    server.ensure_admin()
    sign_in(page, server.url + "/admin/groups", "admin@example.org")
    page.get_by_label("Group name").fill("Researchers")
    page.get_by_label("Description").fill("People who run the RAG pipelines")
    page.get_by_role("button", name="Create group").click()
    card = page.get_by_role("region", name="Researchers")
    expect(card).to_be_visible()
    card.get_by_label("Add a user to Researchers").select_option(
        label="Ada Admin (admin@example.org)"
    )
    card.get_by_role("button", name="Add member").click()
    expect(card.get_by_role("button", name="Remove Ada Admin from Researchers")).to_be_visible()
    snap(page, "admin-groups")


def test_audit_log_lists_what_happened(server, page, snap):
    server.ensure_admin()
    sign_in(page, server.url + "/admin/audit", "admin@example.org")
    rows = page.get_by_role("table", name="Audit log").locator("tbody tr")
    expect(rows.first).to_be_visible()
    snap(page, "admin-audit")


def test_theme_choice_is_remembered(server, page, snap):
    server.ensure_admin()
    sign_in(page, server.url + "/settings/appearance", "admin@example.org")
    page.get_by_role("radio", name="Dark").check()
    expect(page.locator("html")).to_have_class("dark")
    page.reload()
    expect(page.locator("html")).to_have_class("dark")
    expect(page.get_by_role("radio", name="Dark")).to_be_checked()
    snap(page, "settings-dark")
    page.get_by_role("radio", name="Light").check()
    expect(page.locator("html")).not_to_have_class("dark")
