from __future__ import annotations

from quart import Blueprint

from notewell.kernel import BadRequest, hookimpl, policy


class Probe:
    """A plugin with one route per kind of policy, for exercising the kernel."""

    @hookimpl
    def register_routes(self):
        bp = Blueprint("probe", __name__, url_prefix="/probe")

        @bp.get("/open")
        @policy.public
        async def open_route():
            return {"ok": True}

        @bp.get("/members")
        @policy.user
        async def members_only():
            return {"ok": True}

        @bp.get("/unpoliced")
        async def unpoliced():
            return {"leak": True}

        @bp.get("/boom")
        @policy.public
        async def boom():
            raise BadRequest("Nope.", code="probe_bad")

        return bp


async def test_health_answers(bare_app):
    response = await bare_app.test_client().get("/health")
    assert response.status_code == 200
    assert (await response.get_json())["status"] == "ok"
    assert response.headers["X-Request-ID"]


async def test_ready_checks_the_database(bare_app):
    response = await bare_app.test_client().get("/ready")
    assert response.status_code == 200
    assert (await response.get_json())["checks"]["database"] == "ok"


async def test_unknown_route_is_problem_json(bare_app):
    response = await bare_app.test_client().get("/nope")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    body = await response.get_json()
    assert body["code"] == "route_not_found"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_route_without_policy_is_refused(make_app):
    async with make_app(extra_plugins=(Probe(),)) as app:
        response = await app.test_client().get("/probe/unpoliced")
        assert response.status_code == 403
        assert (await response.get_json())["code"] == "route_without_policy"
        assert "/probe/unpoliced" in app.kernel.unpoliced_routes


async def test_anonymous_caller_of_member_route_gets_401(make_app):
    async with make_app(extra_plugins=(Probe(),)) as app:
        response = await app.test_client().get("/probe/members")
        assert response.status_code == 401
        assert (await response.get_json())["code"] == "not_authenticated"


async def test_raised_error_renders_with_its_code(make_app):
    async with make_app(extra_plugins=(Probe(),)) as app:
        response = await app.test_client().get("/probe/boom")
        assert response.status_code == 400
        assert (await response.get_json())["code"] == "probe_bad"
