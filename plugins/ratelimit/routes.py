"""The app-wide request hooks that apply the limits (a blueprint without routes)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Request, Response, request

from notewell.kernel.actor import ANONYMOUS
from notewell.kernel.app import current_notewell_app
from notewell.kernel.errors import TooManyRequests
from notewell.kernel.http import request_state
from notewell.plugins.ratelimit.limiter import Decision, Limiter
from notewell.plugins.ratelimit.settings import RateLimitSettings

bp = Blueprint("ratelimit", __name__)

EXTENSION = "notewell.ratelimit"
VIEW_ATTRIBUTE = "__notewell_rate_limit__"
"""A view may name its route class with this attribute (no import of this plugin needed)."""


def route_class(settings: RateLimitSettings, path: str, view: object) -> str:
    """The view's declared class, else the longest matching path prefix, else default."""
    declared = getattr(view, VIEW_ATTRIBUTE, None)
    if isinstance(declared, str):
        return declared
    matches = [prefix for prefix in settings.routes if path.startswith(prefix)]
    return settings.routes[max(matches, key=len)] if matches else "default"


def identity(req: Request, state: Any) -> str:
    """Who is counted: the API key, else the user, else the client address."""
    actor = getattr(state, "actor", ANONYMOUS)
    if actor.kind == "api_key" and actor.attributes.get("key_id"):
        return f"key:{actor.attributes['key_id']}"
    if actor.is_authenticated:
        return f"user:{actor.id}"
    return f"addr:{getattr(state, 'client_addr', None) or req.remote_addr or 'unknown'}"


@bp.before_app_request
async def limit() -> None:
    """Count the request; 429 ``rate_limited`` with Retry-After once over the limit."""
    # the app and the request are read once, not through Quart's proxies at each use
    # (a read through a proxy costs about a microsecond; this runs for every request)
    app: Any = current_notewell_app()
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    limiter: Limiter | None = app.extensions.get(EXTENSION)
    view = app.view_functions.get(req.endpoint or "")
    if limiter is None or view is None or req.method == "OPTIONS":
        return
    kernel = app.kernel
    owner = kernel.plugin_of_blueprint(bp.name)
    if owner is not None and not kernel.plugins.is_enabled(owner):
        return
    settings: RateLimitSettings = kernel.settings.plugin(RateLimitSettings.section)
    path = req.path
    if path.startswith(settings.exempt):
        return
    state = request_state()
    decision = state.rate_limit = await limiter.hit(
        route_class(settings, path, view), identity(req, state)
    )
    if not decision.allowed:
        raise TooManyRequests(
            "Too many requests; slow down.", code="rate_limited", headers=decision.headers()
        )


@bp.after_app_request
async def add_headers(response: Response) -> Response:
    """RateLimit-* headers on every counted response (a refusal's carry them already)."""
    decision: Decision | None = getattr(request_state(), "rate_limit", None)
    if decision is not None and decision.allowed:
        response.headers.extend(decision.headers())
    return response
