"""Steps the browser tests share (imported by them and by conftest.py)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

PASSWORD = "correct horse battery staple"


def sign_up(page: Any, name: str, email: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-up form shown on the page."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create").click()


def sign_in(page: Any, url: str | None, email: str, password: str = PASSWORD) -> None:
    """Open ``url`` (if given), sign in on the form there, and wait for the app shell."""
    if url:
        page.goto(url)
    expect(page.get_by_role("heading", name="Sign in to Notewell")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_attached()
