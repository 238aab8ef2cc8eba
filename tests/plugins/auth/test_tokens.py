"""Credentials that are present but wrong: malformed, forged, expired, revoked; CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from notewell.kernel.db import utcnow
from notewell.plugins.auth.models import Session as SessionRow
from notewell.plugins.auth.tokens import Signer

ME = "/api/v1/auth/me"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer ", "Token abc"],
)
async def test_malformed_credentials_are_401(app, h, authorization):
    response = await app.test_client().get(ME, headers={"Authorization": authorization})
    await h.problem(response, 401, "invalid_token")


async def test_token_signed_with_another_key_is_401(app, h):
    _, body = await h.signup(app, "ada@example.com")
    session_id = body["token"].split(".")[0]
    forged, _ = Signer("some other secret key").new_session_token(session_id)
    response = await app.test_client().get(ME, headers=h.bearer(forged))
    await h.problem(response, 401, "invalid_token")


async def test_tampered_token_is_401(app, h):
    _, body = await h.signup(app, "ada@example.com")
    session_id, secret, signature = body["token"].split(".")
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    response = await app.test_client().get(
        ME, headers=h.bearer(f"{session_id}.{flipped}.{signature}")
    )
    await h.problem(response, 401, "invalid_token")


async def test_expired_session_is_401(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        _, body = await h.signup(app, "ada@example.com")
        async with app.kernel.db.session() as session:
            await session.execute(
                update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        app.extensions["notewell.auth"].actors.drop(user_id=body["user"]["id"])
        response = await app.test_client().get(ME, headers=h.bearer(body["token"]))
        await h.problem(response, 401, "session_expired")


async def test_stale_cookie_does_not_block_public_routes(app, h):
    client, _ = await h.signup(app, "ada@example.com")
    await client.post("/api/v1/auth/signout", headers=h.csrf(client))
    client.set_cookie("localhost", "notewell_session", "garbage")
    assert (await client.get("/api/v1/auth/config")).status_code == 200
    await h.problem(await client.get(ME), 401, "invalid_token")


async def test_cookie_requests_that_change_state_need_the_csrf_header(app, h):
    client, _ = await h.signup(app, "ada@example.com")
    missing = await client.post("/api/v1/auth/keys", json={"name": "ci"})
    await h.problem(missing, 403, "csrf_failed")
    wrong = await client.post("/api/v1/auth/keys", json={"name": "ci"},
                              headers={"X-CSRF-Token": "x" * 43})
    await h.problem(wrong, 403, "csrf_failed")
    ok = await client.post("/api/v1/auth/keys", json={"name": "ci"}, headers=h.csrf(client))
    assert ok.status_code == 201
    assert (await client.get("/api/v1/auth/keys")).status_code == 200  # reads need none


async def test_bearer_requests_need_no_csrf_header(app, h):
    _, body = await h.signup(app, "ada@example.com")
    response = await app.test_client().post(
        "/api/v1/auth/keys", json={"name": "ci"}, headers=h.bearer(body["token"])
    )
    assert response.status_code == 201


async def test_deactivated_account_is_401(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        admin, _ = await h.signup(app, "ada@example.com")
        _, bob = await h.signup(app, "bob@example.com")
        response = await admin.patch(f"/api/v1/users/{bob['user']['id']}",
                                     json={"active": False}, headers=h.csrf(admin))
        assert response.status_code == 200
        stale = await app.test_client().get(ME, headers=h.bearer(bob["token"]))
        await h.problem(stale, 401, "session_revoked")
        again = await app.test_client().post(
            "/api/v1/auth/signin", json={"email": "bob@example.com", "password": h.password}
        )
        await h.problem(again, 401, "account_disabled")
