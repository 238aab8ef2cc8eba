"""OpenID Connect sign-in against a local provider the tests start."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from oidc_provider import Provider
from sqlalchemy import select

from notewell.plugins.auth.models import Identity

pytestmark = pytest.mark.integration


@pytest.fixture
async def provider(monkeypatch):
    running = Provider()
    await running.start()
    monkeypatch.setenv("NOTEWELL_AUTH__OIDC", json.dumps(
        {"local": running.settings(label="Local SSO")}
    ))
    try:
        yield running
    finally:
        await running.stop()


async def _sign_in(app, client=None):
    """Run the browser's part of the flow; return the client and the callback response."""
    client = client or app.test_client()
    login = await client.get("/api/v1/auth/oidc/local/login?next=/chats")
    assert login.status_code == 302, await login.get_data(as_text=True)
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(login.headers["Location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    return client, await client.get(f"{back.path}?{back.query}")


def person(sub="s-1", email="ada@example.com", verified=True, name="Ada"):
    return {"sub": sub, "email": email, "email_verified": verified, "name": name}


async def test_new_person_gets_an_account_and_a_session(make_app, database_url, provider):
    provider.claims = person()
    async with make_app(database_url=database_url) as app:
        config = await (await app.test_client().get("/api/v1/auth/config")).get_json()
        assert config["oidc"] == [{"name": "local", "label": "Local SSO"}]
        client, done = await _sign_in(app)
        assert done.status_code == 302 and done.headers["Location"] == "/chats"
        me = await (await client.get("/api/v1/auth/me")).get_json()
        assert (me["email"], me["name"], me["role"]) == ("ada@example.com", "Ada", "admin")


async def test_verified_email_links_to_the_existing_account(make_app, provider, h):
    async with make_app() as app:
        _, ada = await h.signup(app, "ada@example.com")
        provider.claims = person(sub="s-9")
        client, done = await _sign_in(app)
        assert done.status_code == 302
        me = await (await client.get("/api/v1/auth/me")).get_json()
        assert me["id"] == ada["user"]["id"]
        provider.claims = person(sub="s-9", email="ada@new-domain.example")
        client, _ = await _sign_in(app)
        assert (await (await client.get("/api/v1/auth/me")).get_json())["id"] == ada["user"]["id"]
        async with app.kernel.db.session() as session:
            identities = (await session.scalars(select(Identity))).all()
        assert [(i.subject, i.user_id) for i in identities] == [("s-9", ada["user"]["id"])]


async def test_email_from_userinfo_when_not_in_the_id_token(make_app, provider):
    provider.claims, provider.email_in_id_token = person(sub="s-2"), False
    async with make_app() as app:
        client, done = await _sign_in(app)
        assert done.status_code == 302
        me = await (await client.get("/api/v1/auth/me")).get_json()
        assert me["email"] == "ada@example.com"


async def test_unverified_email_is_refused(make_app, provider, h):
    provider.claims = person(verified=False)
    async with make_app() as app:
        _, done = await _sign_in(app)
        await h.problem(done, 403, "oidc_email_unverified")
        assert (await app.test_client().get("/api/v1/auth/config")).status_code == 200
        config = await (await app.test_client().get("/api/v1/auth/config")).get_json()
        assert config["has_users"] is False


async def test_token_signed_with_an_unpublished_key_is_refused(make_app, provider, h):
    provider.claims = person()
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    async with make_app() as app:
        _, done = await _sign_in(app)
        await h.problem(done, 401, "oidc_invalid_token")


async def test_callback_without_matching_state_is_refused(make_app, provider, h):
    provider.claims = person()
    async with make_app() as app:
        client = app.test_client()
        no_cookie = await client.get("/api/v1/auth/oidc/local/callback?code=x&state=y")
        await h.problem(no_cookie, 400, "oidc_state")
        await client.get("/api/v1/auth/oidc/local/login")
        wrong = await client.get("/api/v1/auth/oidc/local/callback?code=x&state=forged")
        await h.problem(wrong, 400, "oidc_state")
        denied = await client.get("/api/v1/auth/oidc/local/callback?error=access_denied")
        await h.problem(denied, 400, "oidc_state")


async def test_signup_disabled_refuses_new_people_but_not_linked_ones(
    make_app, provider, monkeypatch, h
):
    monkeypatch.setenv("NOTEWELL_AUTH__SIGNUP_ENABLED", "false")
    async with make_app() as app:
        await h.signup(app, "ada@example.com")
        provider.claims = person(sub="s-3", email="eve@example.com")
        _, done = await _sign_in(app)
        await h.problem(done, 403, "signup_disabled")
        provider.claims = person(sub="s-4")
        _, linked = await _sign_in(app)
        assert linked.status_code == 302


async def test_unknown_provider_is_404(app, h):
    await h.problem(await app.test_client().get("/api/v1/auth/oidc/nope/login"), 404,
                    "oidc_provider_not_found")
