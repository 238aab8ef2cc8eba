"""Route policies: every view function states who may call it.

Decorate each view with exactly one of these. The kernel checks the policy before the
view runs (401 for anonymous callers of a non-public route, 403 when the actor lacks
the permission) and refuses — 403 for everyone — any route that declares none.

- ``public``: anyone, signed in or not.
- ``signed_in``: any authenticated actor, including accounts awaiting approval.
- ``user``: an actor allowed the action ``"use"`` (an approved account).
- ``admin``: an actor allowed the action ``"admin"``.
- ``requires("action")``: an actor allowed that action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

POLICY_ATTRIBUTE = "__notewell_policy__"


@dataclass(frozen=True, slots=True)
class Policy:
    """``action`` is ``None`` for public and signed-in routes."""

    name: str
    authenticated: bool
    action: str | None = None


PUBLIC = Policy("public", authenticated=False)
SIGNED_IN = Policy("signed_in", authenticated=True)
USER = Policy("user", authenticated=True, action="use")
ADMIN = Policy("admin", authenticated=True, action="admin")


def _marker(policy: Policy) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, POLICY_ATTRIBUTE, policy)
        return view

    return decorate


public = _marker(PUBLIC)
signed_in = _marker(SIGNED_IN)
user = _marker(USER)
admin = _marker(ADMIN)


def requires(action: str) -> Callable[[F], F]:
    """Allow actors for whom the ``permission_allowed`` hook allows ``action``."""
    return _marker(Policy(f"requires:{action}", authenticated=True, action=action))


def policy_of(view: Callable[..., Any] | None) -> Policy | None:
    return getattr(view, POLICY_ATTRIBUTE, None)
