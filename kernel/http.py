"""HTTP conventions every route gets: request ids, the caller's actor, route policies,
the body limit and errors rendered through the ``response_from_error`` hook."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pydantic import TypeAdapter
from quart import Request, Response, request
from quart.globals import _cv_app, _cv_request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE, DataSource
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from notewell.kernel.actor import ANONYMOUS, Actor
from notewell.kernel.errors import (
    Forbidden,
    NotewellError,
    NotFound,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    error_for_status,
)
from notewell.kernel.ids import new_id
from notewell.kernel.logs import request_id_var
from notewell.kernel.policy import Policy, policy_of

if TYPE_CHECKING:
    from notewell.kernel.app import NotewellApp

log = logging.getLogger("notewell.http")
access_log = logging.getLogger("notewell.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_JSON_METHODS = {"POST", "PUT", "PATCH"}


@dataclass
class RequestInfo:
    """The parts of a request an ``actor_from_request`` hook may look at.

    The Quart request has the same attributes; Socket.IO handshakes are given as this.
    """

    headers: Headers
    cookies: dict[str, str] = field(default_factory=dict)
    remote_addr: str | None = None
    method: str = "GET"
    path: str = "/"


def current_actor() -> Actor:
    """The actor of the request being handled (``ANONYMOUS`` if none)."""
    context = _cv_app.get(None)  # what ``g`` proxies, read without the proxy's cost
    return getattr(context.g, "actor", ANONYMOUS) if context is not None else ANONYMOUS


def request_state() -> Any:
    """The handled request's ``g``: where plugins keep per-request values (read without
    the proxy's cost, about a microsecond per use of ``quart.g``)."""
    return _cv_app.get().g


def client_address(app: NotewellApp, request: Request) -> str | None:
    """The caller's address, believing X-Forwarded-For only from trusted proxies."""
    peer = request.remote_addr
    if not app.kernel.settings.trusted_proxies:
        return peer  # nobody's forwarding is believed: no need to look
    forwarded = request.headers.get("X-Forwarded-For")
    if not forwarded or not _is_trusted(peer, app.kernel.settings.trusted_proxies):
        return peer
    # walk from the nearest hop outwards, skipping our own proxies
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, app.kernel.settings.trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str | None, trusted: list[str]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)


def install(app: NotewellApp) -> None:
    """Wire the conventions into ``app``."""
    app.config["MAX_CONTENT_LENGTH"] = app.kernel.settings.max_body_bytes
    app.before_request(_begin)
    app.after_request(_finish)
    app.register_error_handler(NotewellError, _render_error)
    app.register_error_handler(RequestSchemaValidationError, _render_validation_error)
    app.register_error_handler(HTTPException, _render_http_exception)


def speed_up_json_responses(app: NotewellApp) -> None:
    """Convert plain ``dict``/``list`` return values with one cached pydantic adapter per
    type, instead of quart-schema's new ``TypeAdapter`` per response (~50 µs each, a
    sizeable share of a small JSON route); the result is the same (nested models and
    dataclasses included). Other return values take quart-schema's path unchanged.
    Call after ``QuartSchema(app)``."""
    schema_make_response = app.make_response
    quart_make_response = schema_make_response.__wrapped__  # type: ignore[attr-defined]
    adapters: dict[type, TypeAdapter[Any]] = {dict: TypeAdapter(dict), list: TypeAdapter(list)}
    options = app.config["QUART_SCHEMA_PYDANTIC_DUMP_OPTIONS"] or {}
    if app.config["QUART_SCHEMA_CONVERT_CASING"]:
        return  # camelCase output: quart-schema's conversion does it

    async def make_response(result: Any) -> Any:
        if isinstance(result, Response):
            return result  # already made (the /v1 hot path): nothing to convert
        value, status = result if _is_value_and_status(result) else (result, None)
        adapter = adapters.get(type(value))
        if adapter is None:
            return await schema_make_response(result)
        value = adapter.dump_python(value, **options)
        return await quart_make_response(value if status is None else (value, status))

    app.make_response = make_response  # type: ignore[method-assign]


def _is_value_and_status(result: Any) -> bool:
    return isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int)


async def _begin() -> None:
    # The request, the app and ``g`` are read from Quart's context variables, not
    # through its proxies (``request``, ``current_app``, ``g``): each read through a
    # proxy costs about a microsecond, and these functions run for every request.
    context = _cv_request.get()
    req, app, ctx_g = context.request, cast("NotewellApp", context.app), _cv_app.get().g
    incoming = req.headers.get("X-Request-ID", "")
    request_id = ctx_g.request_id = incoming if _REQUEST_ID.match(incoming) else new_id()
    ctx_g.started = time.perf_counter()
    request_id_var.set(request_id)
    ctx_g.client_addr = client_address(app, req)
    view = app.view_functions.get(req.endpoint or "")
    if view is None:
        return  # routing failed; Quart raises 404/405 next
    owner = app.kernel.plugin_of_blueprint(req.blueprint)
    if owner is not None and not app.kernel.plugins.is_enabled(owner):
        raise NotFound(f"No route for {req.path}.", code="route_not_found")
    await _enforce(app, req, ctx_g, policy_of(view))
    _check_media_type(req, view)


async def _enforce(app: NotewellApp, req: Request, ctx_g: Any, policy: Policy | None) -> None:
    """Set the caller's actor (``g.actor``); raise unless the route's ``policy`` lets
    them in."""
    plugins = app.kernel.plugins
    if policy is not None and not policy.authenticated:
        try:
            ctx_g.actor = await plugins.afirst("actor_from_request", request=req) or ANONYMOUS
        except Unauthorized:
            ctx_g.actor = ANONYMOUS  # stale credentials do not stop a public route
        return
    actor = ctx_g.actor = await plugins.afirst("actor_from_request", request=req) or ANONYMOUS
    if policy is None:
        log.error("route %s declares no policy; refusing it", req.endpoint)
        raise Forbidden("This route is not available.", code="route_without_policy")
    if not actor.is_authenticated:
        raise Unauthorized("Sign in to do this.", code="not_authenticated")
    if policy.action is not None:
        allowed = await plugins.afirst(
            "permission_allowed", actor=actor, action=policy.action, resource=None
        )
        if not allowed:
            raise Forbidden("You are not allowed to do this.", code="permission_denied")


def _check_media_type(req: Request, view: Any) -> None:
    declared = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    if declared is None or req.method not in _JSON_METHODS:
        return
    _model, source = declared
    if source == DataSource.JSON and not req.is_json:
        raise UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json.",
            code="unsupported_media_type",
        )


async def _finish(response: Response) -> Response:
    ctx_g = _cv_app.get().g
    request_id = getattr(ctx_g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    started = getattr(ctx_g, "started", None)
    if started is not None and access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "actor_id": current_actor().id,
            },
        )
    return response


async def _render_error(error: NotewellError) -> Response:
    from quart import current_app

    app: NotewellApp = current_app  # type: ignore[assignment]
    response: Response = await app.kernel.plugins.afirst(
        "response_from_error", request=request, error=error
    )
    return response


async def _render_validation_error(error: RequestSchemaValidationError) -> Response:
    problems = []
    cause = error.validation_error
    if hasattr(cause, "errors"):
        for item in cause.errors():
            problems.append(
                {
                    "field": ".".join(str(part) for part in item.get("loc", ())),
                    "message": item.get("msg", ""),
                    "type": item.get("type", ""),
                }
            )
    fields = ", ".join(p["field"] for p in problems if p["field"]) or "the body"
    return await _render_error(
        Unprocessable(f"Some fields are invalid: {fields}.", errors=problems)
    )


async def _render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    messages = {
        400: "The request could not be understood (is the JSON well-formed?).",
        404: f"No route for {request.path}.",
        405: f"{request.method} is not allowed on {request.path}.",
        413: "The request body is larger than this server accepts.",
        415: "The request body's content type is not supported here.",
    }
    message = messages.get(status, error.description or error.name)
    codes = {404: "route_not_found", 400: "malformed_request"}
    headers = {}
    if status == 405 and error.get_headers():
        headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return await _render_error(
        error_for_status(status, message, code=codes.get(status), headers=headers)
    )
