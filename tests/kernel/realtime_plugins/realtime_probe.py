"""Test plugin for the real-time tests: fixed bearer tokens and a route that publishes.

Loaded from this folder through ``NOTEWELL_PLUGIN_DIRS`` (``plugin_dirs``), by both the
in-process tests and the ``notewell serve`` processes of the acceptance test.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from notewell.kernel import Actor, Unauthorized, hookimpl, policy
from notewell.kernel.app import current_kernel
from notewell.kernel.events import Event
from notewell.kernel.http import current_actor

TOKENS = {
    "alice-token": Actor(id="alice", kind="user", name="Alice", roles=frozenset({"user"})),
    "bob-token": Actor(id="bob", kind="user", name="Bob", roles=frozenset({"user"})),
    "root-token": Actor(id="root", kind="user", name="Root", roles=frozenset({"admin"})),
}

SEEN_REQUESTS: list[Any] = []
"""Every request the hook was asked about, so tests can look at what it was given."""

bp = Blueprint("realtime_probe", __name__, url_prefix="/probe")


@bp.post("/events")
@policy.signed_in
async def publish_event() -> tuple[dict[str, Any], int]:
    """Publish ``{"topic", "data"}`` as an event for the caller."""
    body = await request.get_json()
    event = Event(topic=body["topic"], data=body.get("data") or {}, user_id=current_actor().id)
    await current_kernel().bus.publish(event)
    return {"id": event.id}, 202


@hookimpl
def register_routes() -> Blueprint:
    return bp


@hookimpl
def actor_from_request(request: Any) -> Actor | None:
    SEEN_REQUESTS.append(request)
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    actor = TOKENS.get(header.removeprefix("Bearer "))
    if actor is None:
        raise Unauthorized("That token is not valid.", code="invalid_token")
    return actor
