"""Default answers for identity and permission: anonymous callers, admins may do anything."""

from __future__ import annotations

from typing import Any

from notewell.kernel.actor import ANONYMOUS, Actor
from notewell.kernel.hookspecs import hookimpl


@hookimpl(trylast=True)
def actor_from_request(request: Any) -> Actor:
    return ANONYMOUS


@hookimpl(trylast=True)
def permission_allowed(actor: Actor, action: str, resource: Any | None) -> bool:
    return actor.is_admin
