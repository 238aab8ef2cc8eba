"""The admin API: users, groups, permissions and the audit log (admins only)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_request

from notewell.kernel import policy
from notewell.kernel.http import current_actor
from notewell.plugins.auth import admin_service, groups
from notewell.plugins.auth.schemas import (
    AdminUserRead,
    AuditPage,
    AuditQuery,
    AuditRead,
    GroupCreate,
    GroupList,
    GroupRead,
    GroupUpdate,
    PermissionCreate,
    PermissionList,
    PermissionRead,
    UserPage,
    UserQuery,
    UserRead,
    UserUpdate,
)
from notewell.plugins.auth.web import client, json_response, state

bp = Blueprint("auth_admin", __name__, url_prefix="/api/v1")


def _no_content() -> Response:
    return Response("", status=204)


# -- users ---------------------------------------------------------------------------


@bp.get("/users")
@policy.admin
@validate_querystring(UserQuery)
async def list_users(query_args: UserQuery) -> Response:
    """Accounts, searchable by e-mail or name, a page at a time."""
    rows, next_cursor = await admin_service.list_users(
        state(), query_args.q, query_args.cursor, query_args.limit
    )
    page = UserPage(items=[AdminUserRead.of(u, g) for u, g in rows], next_cursor=next_cursor)
    return json_response(page.model_dump(mode="json"))


@bp.patch("/users/<user_id>")
@policy.admin
@validate_request(UserUpdate)
async def update_user(user_id: str, data: UserUpdate) -> Response:
    """Change a user's role, name or active flag (deactivating signs them out)."""
    user, member_of = await admin_service.update_user(
        state(), current_actor(), user_id, data.model_dump(exclude_unset=True), client().address
    )
    return json_response(AdminUserRead.of(user, member_of).model_dump(mode="json"))


@bp.delete("/users/<user_id>")
@policy.admin
async def delete_user(user_id: str) -> Response:
    """Delete a user and, through ``on_user_deleted``, everything they own."""
    await admin_service.delete_user(state(), current_actor(), user_id, client().address)
    return _no_content()


@bp.post("/users/<user_id>/approve")
@policy.admin
async def approve_user(user_id: str) -> Response:
    """Let a pending account in."""
    user, member_of = await admin_service.approve_user(
        state(), current_actor(), user_id, client().address
    )
    return json_response(AdminUserRead.of(user, member_of).model_dump(mode="json"))


# -- groups --------------------------------------------------------------------------


def _group(group: object, **extra: object) -> GroupRead:
    return GroupRead.model_validate({**vars(group), **extra})


@bp.get("/groups")
@policy.admin
async def list_groups() -> Response:
    """Every group with its member count."""
    rows = await groups.list_groups(state())
    body = GroupList(items=[_group(group, member_count=count) for group, count in rows])
    return json_response(body.model_dump(mode="json"))


@bp.post("/groups")
@policy.admin
@validate_request(GroupCreate)
async def create_group(data: GroupCreate) -> Response:
    """A new group (409 ``group_exists`` for a taken name)."""
    group = await groups.create_group(state(), current_actor(), data.name, data.description)
    return json_response(_group(group, member_count=0).model_dump(mode="json"), 201)


@bp.get("/groups/<group_id>")
@policy.admin
async def get_group(group_id: str) -> Response:
    """A group with its members."""
    group, members = await groups.get_group(state(), group_id)
    body = _group(group, member_count=len(members),
                  members=[UserRead.of(user, []) for user in members])
    return json_response(body.model_dump(mode="json"))


@bp.patch("/groups/<group_id>")
@policy.admin
@validate_request(GroupUpdate)
async def update_group(group_id: str, data: GroupUpdate) -> Response:
    """Rename or re-describe a group."""
    group = await groups.update_group(state(), current_actor(), group_id,
                                      data.model_dump(exclude_unset=True))
    return json_response(_group(group).model_dump(mode="json"))


@bp.delete("/groups/<group_id>")
@policy.admin
async def delete_group(group_id: str) -> Response:
    """Delete a group with its memberships and grants."""
    await groups.delete_group(state(), current_actor(), group_id)
    return _no_content()


@bp.put("/groups/<group_id>/members/<user_id>")
@policy.admin
async def add_member(group_id: str, user_id: str) -> Response:
    """Put a user in a group (idempotent)."""
    await groups.set_member(state(), current_actor(), group_id, user_id, True)
    return _no_content()


@bp.delete("/groups/<group_id>/members/<user_id>")
@policy.admin
async def remove_member(group_id: str, user_id: str) -> Response:
    """Take a user out of a group (idempotent)."""
    await groups.set_member(state(), current_actor(), group_id, user_id, False)
    return _no_content()


# -- permissions and audit -----------------------------------------------------------


@bp.get("/permissions")
@policy.admin
async def list_permissions() -> Response:
    """Every grant."""
    rows = await groups.list_permissions(state())
    body = PermissionList(items=[PermissionRead.of(row) for row in rows])
    return json_response(body.model_dump(mode="json"))


@bp.post("/permissions")
@policy.admin
@validate_request(PermissionCreate)
async def grant(data: PermissionCreate) -> Response:
    """Grant (or, with ``allow: false``, deny) an action to a user or a group."""
    row = await groups.grant(state(), current_actor(), data.model_dump())
    return json_response(PermissionRead.of(row).model_dump(mode="json"), 201)


@bp.delete("/permissions/<permission_id>")
@policy.admin
async def revoke(permission_id: str) -> Response:
    """Remove a grant."""
    await groups.revoke(state(), current_actor(), permission_id)
    return _no_content()


@bp.get("/audit")
@policy.admin
@validate_querystring(AuditQuery)
async def audit_log(query_args: AuditQuery) -> Response:
    """Security events, newest first."""
    rows, next_cursor = await admin_service.list_audit(
        state(), query_args.cursor, query_args.limit, query_args.type
    )
    page = AuditPage(items=[AuditRead.of(row) for row in rows], next_cursor=next_cursor)
    return json_response(page.model_dump(mode="json"))
