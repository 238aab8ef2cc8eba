"""Accounts and sessions: sign-up, sign-in, sign-out, me, password change."""

from __future__ import annotations

import pytest

SIGNUP = "/api/v1/auth/signup"
SIGNIN = "/api/v1/auth/signin"


async def _user_count(app) -> int:
    from sqlalchemy import func, select

    from notewell.plugins.auth.models import User

    async with app.kernel.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(User)))


async def test_first_account_is_admin_later_ones_pending(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        _, first = await h.signup(app, "ada@example.com", name="Ada")
        second_client, second = await h.signup(app, "bob@example.com")
        assert first["user"]["role"] == "admin"
        assert first["user"]["name"] == "Ada"
        assert second["user"]["role"] == "pending"
        me = await second_client.get("/api/v1/auth/me")
        assert me.status_code == 200
        assert set(await me.get_json()) == {"id", "email", "name", "role", "groups", "created_at"}


@pytest.mark.parametrize("variable", ["NOTEWELL_DEFAULT_ROLE", "NOTEWELL_AUTH__DEFAULT_ROLE"])
async def test_default_role_is_configurable(make_app, monkeypatch, h, variable):
    monkeypatch.setenv(variable, "user")
    async with make_app() as app:
        await h.signup(app, "ada@example.com")
        _, body = await h.signup(app, "bob@example.com")
        assert body["user"]["role"] == "user"


async def test_signup_can_be_disabled_but_first_account_still_works(make_app, monkeypatch, h):
    monkeypatch.setenv("NOTEWELL_AUTH__SIGNUP_ENABLED", "false")
    async with make_app() as app:
        client = app.test_client()
        config = await (await client.get("/api/v1/auth/config")).get_json()
        assert config["signup_enabled"] is True and config["has_users"] is False
        await h.signup(app, "ada@example.com")
        response = await client.post(SIGNUP, json={"email": "b@example.com",
                                                   "password": h.password})
        await h.problem(response, 403, "signup_disabled")
        config = await (await client.get("/api/v1/auth/config")).get_json()
        assert config == {"signup_enabled": False, "has_users": True, "oidc": [],
                          "password_min_length": 8}


async def test_email_is_unique_case_insensitively(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        await h.signup(app, "ada@example.com")
        response = await app.test_client().post(
            SIGNUP, json={"email": "  ADA@Example.COM ", "password": h.password}
        )
        await h.problem(response, 409, "email_taken")
        assert await _user_count(app) == 1


async def test_signin_sets_session_and_csrf_cookies(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        await h.signup(app, "ada@example.com")
        client = app.test_client()
        response = await client.post(SIGNIN, json={"email": "Ada@example.com",
                                                   "password": h.password})
        assert response.status_code == 200
        body = await response.get_json()
        assert body["user"]["email"] == "ada@example.com" and body["token"]
        cookies = response.headers.getlist("Set-Cookie")
        session_cookie = next(c for c in cookies if c.startswith("notewell_session="))
        csrf_cookie = next(c for c in cookies if c.startswith("notewell_csrf="))
        assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
        assert "HttpOnly" not in csrf_cookie
        assert "Secure" not in session_cookie
        me = await client.get("/api/v1/auth/me")
        assert (await me.get_json())["email"] == "ada@example.com"
        by_token = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(body["token"]))
        assert by_token.status_code == 200


async def test_cookies_are_secure_behind_https(make_app, h):
    async with make_app(public_url="https://notes.example.com") as app:
        response = await app.test_client().post(
            SIGNUP, json={"email": "ada@example.com", "password": h.password}
        )
        for cookie in response.headers.getlist("Set-Cookie"):
            assert "Secure" in cookie


async def test_wrong_password_and_unknown_email_look_alike(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        await h.signup(app, "ada@example.com")
        client = app.test_client()
        wrong = await client.post(SIGNIN, json={"email": "ada@example.com", "password": "nope"})
        unknown = await client.post(SIGNIN, json={"email": "eve@example.com",
                                                  "password": h.password})
        first = await h.problem(wrong, 401, "invalid_credentials")
        second = await h.problem(unknown, 401, "invalid_credentials")
        assert first["detail"] == second["detail"]
        assert "Set-Cookie" not in wrong.headers


async def test_signout_revokes_the_session(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        client, body = await h.signup(app, "ada@example.com")
        response = await client.post("/api/v1/auth/signout", headers=h.csrf(client))
        assert response.status_code == 204
        assert h.cookie(client, "notewell_session") is None
        again = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(body["token"]))
        await h.problem(again, 401, "session_revoked")


async def test_signout_without_session_is_harmless(app):
    response = await app.test_client().post("/api/v1/auth/signout")
    assert response.status_code == 204


async def test_password_change_revokes_other_sessions(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        client, _ = await h.signup(app, "ada@example.com")
        other = await app.test_client().post(SIGNIN, json={"email": "ada@example.com",
                                                           "password": h.password})
        other_token = (await other.get_json())["token"]
        response = await client.post(
            "/api/v1/auth/password", headers=h.csrf(client),
            json={"current_password": h.password, "new_password": "a new long password"},
        )
        assert response.status_code == 204
        assert (await client.get("/api/v1/auth/me")).status_code == 200
        stale = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(other_token))
        await h.problem(stale, 401, "session_revoked")
        old = await app.test_client().post(SIGNIN, json={"email": "ada@example.com",
                                                         "password": h.password})
        await h.problem(old, 401, "invalid_credentials")
        new = await app.test_client().post(SIGNIN, json={"email": "ada@example.com",
                                                         "password": "a new long password"})
        assert new.status_code == 200


async def test_password_change_needs_the_current_password(app, h):
    _, body = await h.signup(app, "ada@example.com")
    response = await app.test_client().post(
        "/api/v1/auth/password", headers=h.bearer(body["token"]),
        json={"current_password": "wrong", "new_password": "a new long password"},
    )
    await h.problem(response, 400, "wrong_password")
    response = await app.test_client().post(
        "/api/v1/auth/password", headers=h.bearer(body["token"]),
        json={"current_password": h.password, "new_password": "short"},
    )
    await h.problem(response, 422, "weak_password")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": "ada@example.com", "password": "x" * 257}, 422, "validation_failed"),
        ({"email": "a" * 250 + "@example.com", "password": "long enough pw"}, 422,
         "validation_failed"),
        ({"email": "not-an-address", "password": "long enough pw"}, 422, "invalid_email"),
        ({"email": "ada@example.com", "password": "short"}, 422, "weak_password"),
        ({"email": "ada@example.com", "password": "        "}, 422, "weak_password"),
        ({"email": ["ada@example.com"], "password": "long enough pw"}, 422, "validation_failed"),
        ({"email": "ada@example.com"}, 422, "validation_failed"),
        ({"email": "ada@example.com", "password": "long enough pw", "role": "admin"}, 422,
         "validation_failed"),
        ([1, 2, 3], 422, "validation_failed"),
    ],
)
async def test_bad_signup_input_changes_nothing(app, h, payload, status, code):
    response = await app.test_client().post(SIGNUP, json=payload)
    await h.problem(response, status, code)
    assert await _user_count(app) == 0


async def test_signup_body_must_be_json(app, h):
    response = await app.test_client().post(SIGNUP, data="email=a@b.c&password=xxxxxxxxxx",
                                            headers={"Content-Type": "text/plain"})
    await h.problem(response, 415, "unsupported_media_type")
    broken = await app.test_client().post(SIGNUP, data="{not json",
                                          headers={"Content-Type": "application/json"})
    assert broken.status_code in (400, 422)
    assert broken.content_type == "application/problem+json"
    assert await _user_count(app) == 0


async def test_me_needs_a_session(app, h):
    await h.problem(await app.test_client().get("/api/v1/auth/me"), 401, "not_authenticated")


async def test_pending_account_may_sign_in_but_not_use(make_app, h):
    async with make_app() as app:
        await h.signup(app, "ada@example.com")
        client, _ = await h.signup(app, "bob@example.com")
        assert (await client.get("/api/v1/auth/me")).status_code == 200
        await h.problem(await client.get("/api/v1/auth/keys"), 403, "account_pending")


async def test_unknown_email_costs_a_password_check_too(app, h, monkeypatch):
    await h.signup(app, "ada@example.com")
    passwords = app.extensions["notewell.auth"].passwords
    checked = []
    original = passwords._check

    def spy(stored, password):
        checked.append(stored)
        return original(stored, password)

    monkeypatch.setattr(passwords, "_check", spy)
    response = await app.test_client().post(SIGNIN, json={"email": "eve@example.com",
                                                          "password": h.password})
    await h.problem(response, 401, "invalid_credentials")
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")


def test_default_hashing_cost_is_not_weakened():
    from notewell.plugins.auth.settings import AuthSettings

    fields = AuthSettings.model_fields
    assert fields["password_time_cost"].default >= 3
    assert fields["password_memory_cost"].default >= 64 * 1024
