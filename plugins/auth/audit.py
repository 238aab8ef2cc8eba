"""The audit log: security events admins can read."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notewell.plugins.auth.models import AuditEvent

EVENT_TYPES = (
    "signup",
    "signin",
    "signin_failed",
    "lockout",
    "signout",
    "role_changed",
    "user_approved",
    "user_updated",
    "user_deactivated",
    "user_activated",
    "user_deleted",
    "password_changed",
    "password_reset",
    "key_created",
    "key_revoked",
    "group_changed",
    "permission_granted",
    "permission_revoked",
)


def record(
    session: AsyncSession,
    type: str,
    *,
    actor_id: str | None = None,
    subject_id: str | None = None,
    address: str | None = None,
    **data: Any,
) -> None:
    """Add one event to ``session`` (written with the change it describes).

    ``data`` must never hold a secret: no passwords, tokens or keys.
    """
    assert type in EVENT_TYPES, type
    session.add(
        AuditEvent(
            type=type, actor_id=actor_id, subject_id=subject_id, address=address, data=data
        )
    )
