"""A test-only identity plugin: ``X-Test-Actor: <id>[:<role>,<role>]`` becomes the actor.

Lets plugin tests call protected routes without the auth plugin::

    @pytest.fixture
    def plugins():
        return [HeaderActors(), my_plugin]

    await client.get("/api/v1/things", headers=as_actor("alice"))
    await client.get("/api/v1/admin/things", headers=as_actor("root", "admin"))

Never install it in a server: anyone could claim any identity.
"""

from __future__ import annotations

from typing import Any

from notewell.kernel.actor import Actor
from notewell.kernel.hookspecs import hookimpl

HEADER = "X-Test-Actor"


def as_actor(actor_id: str, *roles: str) -> dict[str, str]:
    """Request headers that make ``actor_id`` (with ``roles``, default ``user``) the caller."""
    return {HEADER: f"{actor_id}:{','.join(roles or ('user',))}"}


class HeaderActors:
    """Trusts the ``X-Test-Actor`` header; users with role ``user`` or ``admin`` may "use"."""

    __name__ = "test_header_actors"

    @hookimpl
    def actor_from_request(self, request: Any) -> Actor | None:
        value = request.headers.get(HEADER)
        if not value:
            return None
        actor_id, _, roles = value.partition(":")
        return Actor(id=actor_id, kind="user", name=actor_id,
                     roles=frozenset(filter(None, roles.split(","))))

    @hookimpl
    def permission_allowed(self, actor: Actor, action: str, resource: Any | None) -> bool | None:
        if action == "use":
            return bool(actor.roles & {"user", "admin"})
        return None
