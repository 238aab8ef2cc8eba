"""Groups, memberships and permission grants (admin only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.errors import Conflict, NotFound, Unprocessable
from notewell.plugins.auth import audit
from notewell.plugins.auth.admin_service import get_user
from notewell.plugins.auth.models import Group, GroupMember, Permission, User
from notewell.plugins.auth.state import AuthState


async def _get_group(session: AsyncSession, group_id: str) -> Group:
    group = await session.get(Group, group_id)
    if group is None:
        raise NotFound(f"No group {group_id}.", code="group_not_found")
    return group


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:  # the transaction rolls back as this propagates
        raise Conflict("A group with this name exists.", code="group_exists") from None


async def list_groups(state: AuthState) -> list[tuple[Group, int]]:
    """Every group with its member count, by name."""
    async with state.db.session() as session:
        rows = await session.execute(
            select(Group, func.count(GroupMember.user_id))
            .outerjoin(GroupMember, GroupMember.group_id == Group.id)
            .group_by(Group.id).order_by(Group.name)
        )
        return [(group, int(count)) for group, count in rows.all()]


async def create_group(state: AuthState, admin: Actor, name: str, description: str) -> Group:
    """A new, empty group; 409 ``group_exists`` for a taken name."""
    async with state.db.session() as session:
        group = Group(name=name.strip(), description=description.strip())
        session.add(group)
        await _flush_unique(session)
        audit.record(session, "group_changed", actor_id=admin.id, group_id=group.id,
                     change="created")
        return group


async def get_group(state: AuthState, group_id: str) -> tuple[Group, list[User]]:
    """A group and its members."""
    async with state.db.session() as session:
        group = await _get_group(session, group_id)
        members = await session.scalars(
            select(User).join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group_id).order_by(User.email)
        )
        return group, list(members.all())


async def update_group(
    state: AuthState, admin: Actor, group_id: str, changes: dict[str, Any]
) -> Group:
    """Rename or re-describe a group."""
    async with state.db.session() as session:
        group = await _get_group(session, group_id)
        for field in ("name", "description"):
            if changes.get(field) is not None:
                setattr(group, field, changes[field].strip())
        await _flush_unique(session)
        audit.record(session, "group_changed", actor_id=admin.id, group_id=group.id,
                     change="updated")
        return group


async def delete_group(state: AuthState, admin: Actor, group_id: str) -> None:
    """Delete a group, its memberships and its grants."""
    async with state.db.session() as session:
        await _get_group(session, group_id)
        members = (await session.scalars(
            select(GroupMember.user_id).where(GroupMember.group_id == group_id)
        )).all()
        await session.execute(delete(Group).where(Group.id == group_id))
        audit.record(session, "group_changed", actor_id=admin.id, group_id=group_id,
                     change="deleted")
    for user_id in members:
        await state.invalidate(user_id=user_id)
    await state.grants_changed()


async def set_member(
    state: AuthState, admin: Actor, group_id: str, user_id: str, member: bool
) -> None:
    """Add ``user_id`` to the group or take them out (both idempotent)."""
    async with state.db.session() as session:
        await _get_group(session, group_id)
        await get_user(session, user_id)
        existing = await session.get(GroupMember, (group_id, user_id))
        if member and existing is None:
            session.add(GroupMember(group_id=group_id, user_id=user_id))
        elif not member and existing is not None:
            await session.delete(existing)
        else:
            return
        audit.record(session, "group_changed", actor_id=admin.id, subject_id=user_id,
                     group_id=group_id, change="member_added" if member else "member_removed")
    await state.invalidate(user_id=user_id)


async def list_permissions(state: AuthState) -> list[Permission]:
    """Every grant, oldest first."""
    async with state.db.session() as session:
        return list((await session.scalars(select(Permission).order_by(Permission.id))).all())


async def grant(state: AuthState, admin: Actor, values: dict[str, Any]) -> Permission:
    """Add a grant to exactly one user or group (422 ``one_grantee`` otherwise)."""
    if (values.get("user_id") is None) == (values.get("group_id") is None):
        raise Unprocessable("Give either user_id or group_id.", code="one_grantee")
    async with state.db.session() as session:
        if values.get("user_id"):
            await get_user(session, values["user_id"])
        else:
            await _get_group(session, values["group_id"])
        row = Permission(created_by=admin.id, **values)
        session.add(row)
        await session.flush()
        audit.record(session, "permission_granted", actor_id=admin.id,
                     subject_id=row.user_id, permission_id=row.id, action=row.action,
                     resource_type=row.resource_type, allow=row.allow)
    await state.grants_changed()
    return row


async def revoke(state: AuthState, admin: Actor, permission_id: str) -> None:
    """Remove a grant; 404 ``permission_not_found``."""
    async with state.db.session() as session:
        row = await session.get(Permission, permission_id)
        if row is None:
            raise NotFound(f"No permission {permission_id}.", code="permission_not_found")
        await session.delete(row)
        audit.record(session, "permission_revoked", actor_id=admin.id,
                     subject_id=row.user_id, permission_id=permission_id)
    await state.grants_changed()
