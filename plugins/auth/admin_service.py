"""Administration: users (list, approve, change, deactivate, delete) and the audit log."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.errors import Conflict, NotewellError, NotFound
from notewell.kernel.events import Event
from notewell.plugins.auth import audit
from notewell.plugins.auth.models import AuditEvent, Group, GroupMember, User
from notewell.plugins.auth.service import groups_of, revoke_sessions
from notewell.plugins.auth.state import USER_DELETED_TOPIC, AuthState

log = logging.getLogger("notewell.auth")


async def get_user(session: AsyncSession, user_id: str) -> User:
    """The account ``user_id``, or 404 ``user_not_found``."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.", code="user_not_found")
    return user


async def list_users(
    state: AuthState, q: str | None, cursor: str | None, limit: int
) -> tuple[list[tuple[User, list[Group]]], str | None]:
    """Accounts in id (creation) order after ``cursor``, matching ``q`` in e-mail or name."""
    query = select(User).order_by(User.id).limit(limit + 1)
    if cursor:
        query = query.where(User.id > cursor)
    if q:
        escaped = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(or_(User.email.like(pattern, escape="\\"),
                                func.lower(User.name).like(pattern, escape="\\")))
    async with state.db.session() as session:
        users = list((await session.scalars(query)).all())
        page = users[:limit]
        memberships = await _groups_by_user(session, [user.id for user in page])
    next_cursor = page[-1].id if len(users) > limit else None
    return [(user, memberships.get(user.id, [])) for user in page], next_cursor


async def _groups_by_user(session: AsyncSession, user_ids: list[str]) -> dict[str, list[Group]]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(GroupMember.user_id, Group).join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.user_id.in_(user_ids)).order_by(Group.name)
    )
    found: dict[str, list[Group]] = {}
    for user_id, group in rows.all():
        found.setdefault(user_id, []).append(group)
    return found


async def _other_active_admins(session: AsyncSession, user_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user_id)
    )
    return int(count or 0)


async def update_user(
    state: AuthState, admin: Actor, user_id: str, changes: dict[str, Any], address: str | None
) -> tuple[User, list[Group]]:
    """Change role, active flag or name. 409 ``last_admin`` if no active admin would remain."""
    async with state.db.session() as session:
        user = await get_user(session, user_id)
        demoting = changes.get("role") not in (None, "admin") or changes.get("active") is False
        if user.role == "admin" and demoting and not await _other_active_admins(session, user.id):
            raise Conflict("At least one active admin must remain.", code="last_admin")
        events = _apply(user, changes)
        for event, data in events:
            audit.record(session, event, actor_id=admin.id, subject_id=user.id,
                         address=address, **data)
        groups = await groups_of(session, user.id)
    if changes.get("active") is False:
        await revoke_sessions(state, user.id)
    elif events:
        await state.invalidate(user_id=user.id)
    return user, groups


def _apply(user: User, changes: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    role = changes.get("role")
    if role is not None and role != user.role:
        events.append(("role_changed", {"old": user.role, "new": role}))
        user.role = role
    active = changes.get("active")
    if active is not None and active != user.active:
        events.append(("user_activated" if active else "user_deactivated", {}))
        user.active = active
    name = changes.get("name")
    if name is not None and name.strip() != user.name:
        events.append(("user_updated", {"fields": ["name"]}))
        user.name = name.strip()
    return events


async def approve_user(
    state: AuthState, admin: Actor, user_id: str, address: str | None
) -> tuple[User, list[Group]]:
    """Turn a pending account into a user (no change for other roles)."""
    async with state.db.session() as session:
        user = await get_user(session, user_id)
        if user.role == "pending":
            user.role = "user"
            audit.record(session, "user_approved", actor_id=admin.id, subject_id=user.id,
                         address=address)
        groups = await groups_of(session, user.id)
    await state.invalidate(user_id=user.id)
    return user, groups


async def delete_user(state: AuthState, admin: Actor, user_id: str, address: str | None) -> None:
    """Delete an account after every plugin has deleted the user's data.

    Each ``on_user_deleted`` implementation runs first (disabled plugins too: their
    tables still hold rows); if one fails the account is kept, so that a retry can
    finish the job and nothing is orphaned. 409 ``last_admin`` for the last admin.
    """
    async with state.db.session() as session:
        user = await get_user(session, user_id)
        if user.role == "admin" and not await _other_active_admins(session, user.id):
            raise Conflict("At least one active admin must remain.", code="last_admin")
    await _notify_plugins(state, user_id)
    async with state.db.session() as session:
        await session.execute(delete(User).where(User.id == user_id))
        audit.record(session, "user_deleted", actor_id=admin.id, subject_id=user_id,
                     address=address)
    await state.invalidate(user_id=user_id)
    await state.grants_changed()
    await state.bus.publish(Event(USER_DELETED_TOPIC, {"user_id": user_id}))


async def _notify_plugins(state: AuthState, user_id: str) -> None:
    pm = state.kernel.plugins.pm
    for impl in reversed(pm.hook.on_user_deleted.get_hookimpls()):
        name = pm.get_name(impl.plugin) or "?"
        try:
            result = impl.function(*[{"user_id": user_id}[arg] for arg in impl.argnames])
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # any failure must stop the deletion, whatever it is
            log.error("plugin %s failed to delete data of a user", name,
                      extra={"plugin": name}, exc_info=True)
            raise NotewellError(
                f"The {name} plugin could not delete this user's data; nothing was deleted.",
                code="user_delete_failed",
            ) from exc


async def list_audit(
    state: AuthState, cursor: str | None, limit: int, type: str | None
) -> tuple[list[AuditEvent], str | None]:
    """Events newest first, before ``cursor``, optionally of one ``type``."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(AuditEvent.id < cursor)
    if type:
        query = query.where(AuditEvent.type == type)
    async with state.db.session() as session:
        rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
