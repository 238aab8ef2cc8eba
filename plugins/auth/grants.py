"""Permission decisions: roles first, then grants to the user or their groups.

Rules, in order:

1. anonymous actors may do nothing; admins may do everything;
2. accounts awaiting approval may do nothing (``Forbidden`` with code ``account_pending``);
3. ``admin`` (and ``admin.*``) actions belong to admins alone;
4. among the grants matching the action and resource, the most specific wins — one
   naming the resource id beats one for the whole type, and a grant to the user beats
   one to a group; on a tie a denial wins;
5. with no matching grant, approved users may ``use`` anything and may do any action
   or resource type that is not listed in the ``default_deny`` setting.

The grants live in memory (reloaded whenever they change), so deciding costs no query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import Forbidden

ANY = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    """One grant, as the decision needs it."""

    action: str
    resource_type: str
    resource_id: str | None
    user_id: str | None
    group_id: str | None
    allow: bool

    def matches(self, action: str, rtype: str | None, rid: str | None) -> bool:
        if self.action not in (action, ANY):
            return False
        if self.resource_type != ANY and self.resource_type != rtype:
            return False
        return self.resource_id is None or self.resource_id == rid

    def specificity(self) -> int:
        return (2 if self.resource_id is not None else 0) + (1 if self.user_id else 0)


def resource_key(resource: Any) -> tuple[str | None, str | None]:
    """``(type, id)`` of a resource given as ``None``, ``"type"``, ``"type:id"``,
    ``(type, id)``, a mapping with ``type``/``id`` or an object with ``resource_type``."""
    if resource is None:
        return None, None
    if isinstance(resource, str):
        rtype, _, rid = resource.partition(":")
        return rtype, rid or None
    if isinstance(resource, tuple | list) and len(resource) == 2:
        return _text(resource[0]), _text(resource[1])
    if isinstance(resource, Mapping):
        return (
            _text(resource.get("type", resource.get("resource_type"))),
            _text(resource.get("id", resource.get("resource_id"))),
        )
    rtype = getattr(resource, "resource_type", None)
    rid = getattr(resource, "resource_id", getattr(resource, "id", None))
    return _text(rtype), _text(rid)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class Grants:
    """All grants, in memory."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    async def load(self, db: Database) -> None:
        from notewell.plugins.auth.models import Permission

        async with db.session() as session:
            rows = (await session.scalars(select(Permission))).all()
        self.rules = [
            Rule(row.action, row.resource_type, row.resource_id, row.user_id, row.group_id,
                 row.allow)
            for row in rows
        ]

    def decide(
        self, actor: Actor, action: str, resource: Any, default_deny: Iterable[str]
    ) -> bool:
        """Whether ``actor`` may do ``action`` on ``resource`` (see the module docstring)."""
        if not actor.is_authenticated:
            return False
        if actor.is_admin:
            return True
        if "pending" in actor.roles:
            raise Forbidden(
                "Your account is waiting for an administrator's approval.",
                code="account_pending",
            )
        if "user" not in actor.roles:
            return False
        if action == "admin" or action.startswith("admin."):
            return False
        rtype, rid = resource_key(resource)
        groups = set(actor.attributes.get("groups", ()))
        matching = [
            rule for rule in self.rules
            if (rule.user_id == actor.id or rule.group_id in groups)
            and rule.matches(action, rtype, rid)
        ]
        if matching:
            top = max(rule.specificity() for rule in matching)
            return all(rule.allow for rule in matching if rule.specificity() == top)
        if action == "use" and rtype is None:
            return True
        denied = set(default_deny)
        return action not in denied and (rtype is None or rtype not in denied)
