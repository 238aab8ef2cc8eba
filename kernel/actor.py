"""Who is making a request: the actor every policy and ownership check is about."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a request, a socket connection or a pipeline run.

    The kernel only knows the shape; the auth plugin decides who is who.

    - ``id``: a stable identifier (a user id), ``None`` for the anonymous actor.
    - ``kind``: ``"user"``, ``"api_key"``, ``"system"`` or ``"anonymous"``.
    - ``roles``: role names; ``"admin"`` is the one role the kernel understands.
    - ``attributes``: anything else the authenticating plugin wants to carry
      (an API key id, the session id, group ids).
    """

    id: str | None
    kind: str = "anonymous"
    name: str = ""
    roles: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def to_public(self) -> dict[str, Any]:
        """The actor as it may appear in API responses and run records."""
        return {"id": self.id, "kind": self.kind, "name": self.name, "roles": sorted(self.roles)}


ANONYMOUS = Actor(id=None)
"""The actor of a request nobody authenticated."""

SYSTEM = Actor(id="system", kind="system", name="system", roles=frozenset({"admin"}))
"""The actor of work the server does on its own behalf (migrations, reapers, the CLI)."""
