"""Fixtures for the auth plugin's tests: cheap Argon2 parameters and helpers."""

from __future__ import annotations

from typing import Any

import pytest

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest, for tests only (the defaults stay at RFC 9106 strength)."""
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_MEMORY_COST", "8")
    monkeypatch.setenv("NOTEWELL_AUTH__PASSWORD_PARALLELISM", "1")


@pytest.fixture
def settings(settings: Any) -> Any:
    """Without the rate limiter, so that its counts never mask what these tests check."""
    return settings.model_copy(update={"disabled_plugins": ["ratelimit"]})


class Helpers:
    """What most auth tests do: sign people up, present tokens, check problems."""

    password = PASSWORD

    @staticmethod
    async def signup(app: Any, email: str, password: str = PASSWORD,
                     name: str = "") -> tuple[Any, dict[str, Any]]:
        """A fresh client signed up (and signed in by cookie) as ``email``; the body."""
        client = app.test_client()
        response = await client.post(
            "/api/v1/auth/signup", json={"email": email, "password": password, "name": name}
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        return client, await response.get_json()

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def cookie(client: Any, name: str) -> str | None:
        """The value of cookie ``name`` in the test client's jar."""
        for item in client.cookie_jar:
            if item.name == name:
                return str(item.value)
        return None

    @staticmethod
    def csrf(client: Any) -> dict[str, str]:
        """The CSRF header a browser script would send, from the client's cookie."""
        return {"X-CSRF-Token": Helpers.cookie(client, "notewell_csrf") or ""}

    @staticmethod
    async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
        """Assert the response is problem+json with ``status`` and ``code``."""
        body = await response.get_json()
        assert response.status_code == status, body
        assert response.content_type == "application/problem+json"
        assert body["code"] == code, body
        return body


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
