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


class Echo:
    """A JSON route with a schema, for body-handling tests."""

    __name__ = "echo"

    @hookimpl
    def register_routes(self):
        from pydantic import BaseModel, Field
        from quart_schema import validate_request

        class Note(BaseModel):
            title: str = Field(min_length=1, max_length=10)
            count: int

        bp = Blueprint("echo", __name__)

        @bp.post("/echo")
        @policy.public
        @validate_request(Note)
        async def echo(data: Note):
            return data.model_dump()

        @bp.get("/crash")
        @policy.public
        async def crash():
            raise RuntimeError("secret internals")

        return bp


async def test_wrong_method_is_405_with_allow_header(bare_app):
    response = await bare_app.test_client().post("/health")
    assert response.status_code == 405
    assert (await response.get_json())["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_body_over_the_limit_is_413(make_app):
    async with make_app(extra_plugins=(Echo(),), max_body_bytes=2048) as app:
        response = await app.test_client().post(
            "/echo", data=b"x" * 5000, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert (await response.get_json())["code"] == "payload_too_large"


async def test_non_json_body_is_415(make_app):
    async with make_app(extra_plugins=(Echo(),)) as app:
        response = await app.test_client().post(
            "/echo", data="title=a", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 415
        assert (await response.get_json())["code"] == "unsupported_media_type"


async def test_malformed_json_is_400(make_app):
    async with make_app(extra_plugins=(Echo(),)) as app:
        response = await app.test_client().post(
            "/echo", data="{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.content_type == "application/problem+json"


async def test_invalid_fields_are_422_listing_each_field(make_app):
    async with make_app(extra_plugins=(Echo(),)) as app:
        response = await app.test_client().post("/echo", json={"title": "", "count": "x"})
        assert response.status_code == 422
        body = await response.get_json()
        assert body["code"] == "validation_failed"
        assert {error["field"] for error in body["errors"]} == {"title", "count"}


async def test_valid_body_passes(make_app):
    async with make_app(extra_plugins=(Echo(),)) as app:
        response = await app.test_client().post("/echo", json={"title": "hi", "count": 2})
        assert (await response.get_json()) == {"title": "hi", "count": 2}


async def test_unexpected_error_is_500_without_internals(make_app, caplog):
    async with make_app(extra_plugins=(Echo(),)) as app:
        app.testing = False  # outside tests, unexpected errors become a 500 problem
        response = await app.test_client().get("/crash")
        assert response.status_code == 500
        body = await response.get_json()
        assert body["code"] == "internal_error"
        assert "secret internals" not in await response.get_data(as_text=True)
        assert body["request_id"] == response.headers["X-Request-ID"]


async def test_incoming_request_id_is_kept(bare_app):
    response = await bare_app.test_client().get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


async def test_openapi_document_is_public(bare_app):
    response = await bare_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert "/health" in (await response.get_json())["paths"]
