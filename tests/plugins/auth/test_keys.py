"""API keys: shown once, stored hashed, usable as Bearer, revocable, scoped to their owner."""

from __future__ import annotations

import hashlib

from quart import Blueprint
from sqlalchemy import select

from notewell.kernel import hookimpl, policy
from notewell.plugins.auth.models import ApiKey

KEYS = "/api/v1/auth/keys"


async def _new_key(app, h, token: str, name: str = "ci") -> dict:
    response = await app.test_client().post(KEYS, json={"name": name}, headers=h.bearer(token))
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


async def test_key_is_shown_once_and_stored_hashed(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        _, ada = await h.signup(app, "ada@example.com")
        created = await _new_key(app, h, ada["token"])
        assert created["key"].startswith("nw_") and created["prefix"] == created["key"][:10]
        listing = await app.test_client().get(KEYS, headers=h.bearer(ada["token"]))
        listed = await listing.get_json()
        assert [item["id"] for item in listed["items"]] == [created["id"]]
        assert "key" not in listed["items"][0]
        async with app.kernel.db.session() as session:
            row = await session.get(ApiKey, created["id"])
        assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
        assert created["key"] not in row.key_hash


async def test_key_works_as_bearer_and_records_last_use_cheaply(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        _, ada = await h.signup(app, "ada@example.com")
        key = (await _new_key(app, h, ada["token"]))["key"]
        for _ in range(3):
            me = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(key))
            assert (await me.get_json())["email"] == "ada@example.com"
        async with app.kernel.db.session() as session:
            row = await session.scalar(select(ApiKey))
        first_use = row.last_used_at
        assert first_use is not None
        await app.test_client().get("/api/v1/auth/me", headers=h.bearer(key))
        async with app.kernel.db.session() as session:
            assert (await session.scalar(select(ApiKey))).last_used_at == first_use


async def test_revoked_key_is_rejected(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        _, ada = await h.signup(app, "ada@example.com")
        created = await _new_key(app, h, ada["token"])
        works = await app.test_client().get(KEYS, headers=h.bearer(created["key"]))
        assert works.status_code == 200
        response = await app.test_client().delete(f"{KEYS}/{created['id']}",
                                                  headers=h.bearer(ada["token"]))
        assert response.status_code == 204
        again = await app.test_client().get(KEYS, headers=h.bearer(created["key"]))
        await h.problem(again, 401, "invalid_api_key")


async def test_unknown_and_malformed_keys_are_401(app, h):
    for key in ("nw_" + "x" * 43, "nw_short"):
        response = await app.test_client().get(KEYS, headers=h.bearer(key))
        await h.problem(response, 401, "invalid_api_key")


async def test_another_users_key_is_not_found(make_app, database_url, h, monkeypatch):
    monkeypatch.setenv("NOTEWELL_DEFAULT_ROLE", "user")
    async with make_app(database_url=database_url) as app:
        _, ada = await h.signup(app, "ada@example.com")
        _, bob = await h.signup(app, "bob@example.com")
        adas = await _new_key(app, h, ada["token"])
        bobs_view = await app.test_client().get(KEYS, headers=h.bearer(bob["token"]))
        assert (await bobs_view.get_json())["items"] == []
        response = await app.test_client().delete(f"{KEYS}/{adas['id']}",
                                                  headers=h.bearer(bob["token"]))
        await h.problem(response, 404, "api_key_not_found")
        still = await app.test_client().get(KEYS, headers=h.bearer(adas["key"]))
        assert still.status_code == 200
        missing = await app.test_client().delete(f"{KEYS}/nonexistent",
                                                 headers=h.bearer(bob["token"]))
        await h.problem(missing, 404, "api_key_not_found")


async def test_admins_can_forbid_keys(make_app, monkeypatch, h):
    async with make_app() as app:
        _, ada = await h.signup(app, "ada@example.com")
        key = (await _new_key(app, h, ada["token"]))["key"]
    monkeypatch.setenv("NOTEWELL_AUTH__API_KEYS_ENABLED", "false")
    async with make_app() as app:
        response = await app.test_client().post(KEYS, json={"name": "x"},
                                                headers=h.bearer(ada["token"]))
        await h.problem(response, 403, "api_keys_disabled")
        used = await app.test_client().get(KEYS, headers=h.bearer(key))
        await h.problem(used, 401, "api_keys_disabled")


async def test_bad_key_input_is_422(app, h):
    _, ada = await h.signup(app, "ada@example.com")
    for payload in ({}, {"name": ""}, {"name": "x" * 101}, {"name": 5}):
        response = await app.test_client().post(KEYS, json=payload,
                                                headers=h.bearer(ada["token"]))
        await h.problem(response, 422, "validation_failed")


class OutsideApi:
    """A signed-in route outside /api/v1 and /v1, where keys are not accepted."""

    @hookimpl
    def register_routes(self):
        bp = Blueprint("outside", __name__)

        @bp.get("/outside")
        @policy.signed_in
        async def outside():
            return {"ok": True}

        return bp


async def test_keys_work_only_on_api_paths(make_app, h):
    async with make_app(extra_plugins=(OutsideApi(),)) as app:
        _, ada = await h.signup(app, "ada@example.com")
        key = (await _new_key(app, h, ada["token"]))["key"]
        response = await app.test_client().get("/outside", headers=h.bearer(key))
        await h.problem(response, 401, "api_key_not_allowed")
        by_session = await app.test_client().get("/outside", headers=h.bearer(ada["token"]))
        assert by_session.status_code == 200
