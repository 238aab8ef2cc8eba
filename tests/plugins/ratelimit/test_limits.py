"""Rate limits: per address, user and key; route classes; headers; Redis with fallback."""

from __future__ import annotations

import json

import pytest
from quart import Blueprint

from notewell.kernel import hookimpl, policy
from notewell.kernel.errors import StartupError
from notewell.testing.actors import HeaderActors, as_actor


class Probe:
    """Routes to count against: an unclassified one and one that declares its class."""

    @hookimpl
    def register_routes(self):
        bp = Blueprint("rl_probe", __name__, url_prefix="/api/v1/probe")

        @bp.get("/open")
        @policy.public
        async def open_route():
            return {"ok": True}

        @bp.get("/mine")
        @policy.user
        async def mine():
            return {"ok": True}

        async def generate():
            return {"ok": True}

        generate.__notewell_rate_limit__ = "generation"
        bp.get("/generate")(policy.public(generate))
        return bp


@pytest.fixture
def plugins():
    return [HeaderActors(), Probe()]


def limits(monkeypatch, **classes: str) -> None:
    monkeypatch.setenv("NOTEWELL_RATELIMIT__CLASSES", json.dumps(
        {"default": "3/minute", "auth": "2/minute", "generation": "1/minute", **classes}
    ))


async def hit(client, path: str, n: int, **kwargs):
    return [await client.get(path, **kwargs) for _ in range(n)]


async def test_over_the_limit_is_429_with_headers(make_app, monkeypatch):
    limits(monkeypatch)
    async with make_app() as app:
        client = app.test_client()
        responses = await hit(client, "/api/v1/probe/open", 4)
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[0].headers["RateLimit-Limit"] == "3"
        assert responses[0].headers["RateLimit-Remaining"] == "2"
        last = responses[-1]
        assert last.content_type == "application/problem+json"
        assert (await last.get_json())["code"] == "rate_limited"
        assert int(last.headers["Retry-After"]) >= 1
        assert last.headers["RateLimit-Remaining"] == "0"
        assert 0 < int(last.headers["RateLimit-Reset"]) <= 60


async def test_users_keys_and_addresses_are_counted_apart(make_app, monkeypatch):
    limits(monkeypatch)
    async with make_app() as app:
        client = app.test_client()
        alice = await hit(client, "/api/v1/probe/mine", 4, headers=as_actor("alice"))
        assert alice[-1].status_code == 429
        bob = await client.get("/api/v1/probe/mine", headers=as_actor("bob"))
        assert bob.status_code == 200
        anonymous = await client.get("/api/v1/probe/open")
        assert anonymous.status_code == 200
        elsewhere = await hit(client, "/api/v1/probe/open", 3,
                              scope_base={"client": ("10.1.1.1", 1)})
        assert [r.status_code for r in elsewhere] == [200, 200, 200]


async def test_route_classes_by_prefix_and_by_view(make_app, monkeypatch):
    limits(monkeypatch)
    monkeypatch.setenv("NOTEWELL_RATELIMIT__ROUTES", json.dumps({"/api/v1/probe/mine": "auth"}))
    async with make_app() as app:
        client = app.test_client()
        strict = await hit(client, "/api/v1/probe/mine", 3, headers=as_actor("alice"))
        assert [r.status_code for r in strict] == [200, 200, 429]
        generation = await hit(client, "/api/v1/probe/generate", 2)
        assert [r.status_code for r in generation] == [200, 429]
        assert (await client.get("/api/v1/probe/open")).status_code == 200


async def test_sign_in_is_in_the_strict_class(make_app, monkeypatch):
    limits(monkeypatch)
    async with make_app() as app:
        client = app.test_client()
        body = {"email": "a@example.com", "password": "wrong password"}
        codes = [(await client.post("/api/v1/auth/signin", json=body)).status_code
                 for _ in range(3)]
        assert codes == [401, 401, 429]


async def test_health_and_assets_are_exempt(make_app, monkeypatch):
    limits(monkeypatch)
    async with make_app() as app:
        client = app.test_client()
        assert {(await client.get("/health")).status_code for _ in range(5)} == {200}
        assert "RateLimit-Limit" not in (await client.get("/assets/x.js")).headers
        assert (await client.get("/api/v1/probe/open")).headers["RateLimit-Remaining"] == "2"


async def test_disabled_plugin_limits_nothing(make_app, monkeypatch):
    limits(monkeypatch)
    async with make_app() as app:
        app.kernel.plugins.set_enabled("ratelimit", False)
        responses = await hit(app.test_client(), "/api/v1/probe/open", 5)
        assert {r.status_code for r in responses} == {200}
        assert "RateLimit-Limit" not in responses[0].headers


def test_bad_limit_settings_stop_start_up(make_app, monkeypatch, settings):
    from notewell.kernel.app import create_app

    monkeypatch.setenv("NOTEWELL_RATELIMIT__CLASSES", '{"default": "lots"}')
    with pytest.raises(StartupError) as raised:
        create_app(settings)
    assert "NOTEWELL_RATELIMIT__CLASSES" in str(raised.value)


@pytest.mark.integration
async def test_redis_outage_falls_back_to_memory_and_back(make_app, monkeypatch, redis_server,
                                                         redis_url):
    if redis_server is None:
        pytest.skip("needs a Redis this test can stop and start")
    from redis.asyncio import Redis

    limits(monkeypatch, default="5/minute")
    async with make_app(redis_url=redis_url) as app:
        limiter = app.extensions["notewell.ratelimit"]
        client = app.test_client()
        assert (await client.get("/api/v1/probe/open")).status_code == 200
        assert limiter.backend == "redis"
        redis_server.stop()
        try:
            during = await hit(client, "/api/v1/probe/open", 6)
            assert limiter.backend == "memory"
            assert [r.status_code for r in during] == [200] * 5 + [429]
        finally:
            redis_server.start()
        limiter._retry_at = 0  # skip the wait before Redis is tried again
        after = await client.get("/api/v1/probe/open")
        assert limiter.backend == "redis"
        assert after.status_code == 200
        assert after.headers["RateLimit-Remaining"] == "4"  # Redis starts afresh (no disk)
        redis = Redis.from_url(redis_url)
        try:
            assert await redis.keys("LIMITS*")
        finally:
            await redis.aclose()
