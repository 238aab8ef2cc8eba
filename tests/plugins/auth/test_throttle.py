"""Sign-in lockout per account and per address; no enumeration through it."""

from __future__ import annotations

import pytest

SIGNIN = "/api/v1/auth/signin"


@pytest.fixture(autouse=True)
def thresholds(monkeypatch):
    monkeypatch.setenv("NOTEWELL_AUTH__LOCKOUT_THRESHOLD", "3")
    monkeypatch.setenv("NOTEWELL_AUTH__ADDRESS_THRESHOLD", "5")


async def _signin(app, email, password, address="10.0.0.1"):
    return await app.test_client().post(SIGNIN, json={"email": email, "password": password},
                                        scope_base={"client": (address, 1234)})


async def test_account_locks_after_repeated_failures(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        admin, _ = await h.signup(app, "ada@example.com")
        for _ in range(3):
            await h.problem(await _signin(app, "ada@example.com", "wrong"), 401,
                            "invalid_credentials")
        locked = await _signin(app, "ada@example.com", h.password, address="10.0.0.2")
        await h.problem(locked, 429, "signin_locked")
        assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
        other = await _signin(app, "bob@example.com", "whatever", address="10.0.0.2")
        await h.problem(other, 401, "invalid_credentials")
        audit = await (await admin.get("/api/v1/audit?type=lockout")).get_json()
        assert [e["data"]["scope"] for e in audit["items"]] == ["email"]


async def test_unknown_accounts_lock_the_same_way(app, h):
    for _ in range(3):
        await h.problem(await _signin(app, "ghost@example.com", "x"), 401, "invalid_credentials")
    await h.problem(await _signin(app, "ghost@example.com", "x"), 429, "signin_locked")


async def test_address_locks_across_accounts(app, h):
    await h.signup(app, "ada@example.com")
    for n in range(5):
        await h.problem(await _signin(app, f"u{n}@example.com", "x"), 401,
                        "invalid_credentials")
    await h.problem(await _signin(app, "ada@example.com", h.password), 429, "signin_locked")
    assert (await _signin(app, "ada@example.com", h.password, "10.9.9.9")).status_code == 200


async def test_success_clears_the_account_count(app, h):
    await h.signup(app, "ada@example.com")
    for _ in range(2):
        await _signin(app, "ada@example.com", "wrong")
    assert (await _signin(app, "ada@example.com", h.password)).status_code == 200
    for _ in range(2):
        await _signin(app, "ada@example.com", "wrong")
    assert (await _signin(app, "ada@example.com", h.password)).status_code == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(make_app, h):
    async with make_app(trusted_proxies=["10.0.0.0/8"]) as app:
        await h.signup(app, "ada@example.com")
        for n in range(5):
            response = await app.test_client().post(
                SIGNIN, json={"email": f"u{n}@example.com", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.7"}, scope_base={"client": ("10.0.0.1", 1)},
            )
            await h.problem(response, 401, "invalid_credentials")
        spoofed = await app.test_client().post(
            SIGNIN, json={"email": "ada@example.com", "password": h.password},
            headers={"X-Forwarded-For": "203.0.113.7"}, scope_base={"client": ("192.0.2.1", 1)},
        )
        assert spoofed.status_code == 200  # untrusted peer: its own address counts
        via_proxy = await app.test_client().post(
            SIGNIN, json={"email": "ada@example.com", "password": h.password},
            headers={"X-Forwarded-For": "203.0.113.7"}, scope_base={"client": ("10.0.0.2", 1)},
        )
        await h.problem(via_proxy, 429, "signin_locked")
