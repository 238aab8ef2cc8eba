"""Who is calling: the session cookie, a Bearer session token or a Bearer API key.

Cookie-authenticated requests that change state must carry the CSRF token
(``X-CSRF-Token``, equal to the ``notewell_csrf`` cookie, which is bound to the
session); Bearer requests need none, since browsers never add that header on their own.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select, update

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.errors import Forbidden, Unauthorized
from notewell.plugins.auth.models import ApiKey, GroupMember, User
from notewell.plugins.auth.models import Session as SessionRow
from notewell.plugins.auth.state import AuthState
from notewell.plugins.auth.tokens import API_KEY_PREFIX, InvalidToken, api_key_hash, same

SESSION_COOKIE = "notewell_session"
CSRF_COOKIE = "notewell_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_PATH_PREFIXES = ("/api/v1/", "/v1/")


async def actor_for(state: AuthState, request: Any) -> Actor | None:
    """The actor of ``request``; ``None`` without credentials; 401 for bad ones."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="invalid_token")
        if credential.startswith(API_KEY_PREFIX):
            return await _actor_for_key(state, credential, request.path)
        return await _actor_for_session(state, credential)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    actor = await _actor_for_session(state, token)
    if request.method in UNSAFE_METHODS:
        expected = state.signer.csrf_token(actor.attributes["session_id"])
        if not same(request.headers.get(CSRF_HEADER, ""), expected):
            raise Forbidden(
                f"Send the {CSRF_HEADER} header with the value of the {CSRF_COOKIE} cookie.",
                code="csrf_failed",
            )
    return actor


async def _actor_for_session(state: AuthState, token: str) -> Actor:
    try:
        session_id, secret_hash = state.signer.parse_session_token(token)
    except InvalidToken:
        raise Unauthorized("The session token is not valid.", code="invalid_token") from None
    cache_key = f"s:{session_id}"
    cached = state.actors.get(cache_key)
    if cached is not None and cached.expires_at is not None and cached.expires_at > utcnow():
        if not same(cached.secret_hash, secret_hash):
            raise Unauthorized("The session token is not valid.", code="invalid_token")
        return cached.actor
    async with state.db.session() as session:
        found = (await session.execute(
            select(SessionRow, User).join(User, User.id == SessionRow.user_id)
            .where(SessionRow.id == session_id)
        )).first()
        if found is None or not same(found[0].secret_hash, secret_hash):
            raise Unauthorized("The session token is not valid.", code="invalid_token")
        row, user = found
        if row.revoked_at is not None:
            raise Unauthorized("This session was signed out.", code="session_revoked")
        if row.expires_at <= utcnow():
            raise Unauthorized("This session has expired; sign in again.",
                               code="session_expired")
        _check_active(user)
        groups = await _group_ids(session, user.id)
    actor = _actor(user, groups, kind="user", session_id=row.id)
    state.actors.put(cache_key, actor, user.id, secret_hash, row.expires_at)
    return actor


async def _actor_for_key(state: AuthState, key: str, path: str) -> Actor:
    if not state.settings.api_keys_enabled:
        raise Unauthorized("API keys are disabled on this server.", code="api_keys_disabled")
    if not path.startswith(KEY_PATH_PREFIXES):
        raise Unauthorized("API keys work on /api/v1 and /v1 only.", code="api_key_not_allowed")
    try:
        key_hash = api_key_hash(key)
    except InvalidToken:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key") from None
    cache_key = f"k:{key_hash}"
    cached = state.actors.get(cache_key)
    if cached is not None:
        await _touch(state, cached.actor.attributes["key_id"])
        return cached.actor
    async with state.db.session() as session:
        found = (await session.execute(
            select(ApiKey, User).join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )).first()
        if found is None or not same(found[0].key_hash, key_hash):
            raise Unauthorized("The API key is not valid.", code="invalid_api_key")
        row, user = found
        _check_active(user)
        groups = await _group_ids(session, user.id)
    actor = _actor(user, groups, kind="api_key", key_id=row.id)
    state.actors.put(cache_key, actor, user.id, key_hash, None)
    await _touch(state, row.id)
    return actor


async def _touch(state: AuthState, key_id: str) -> None:
    """Record a key's use, at most once per ``key_touch_seconds`` per process."""
    now = time.monotonic()
    if now - state.key_touches.get(key_id, -1e12) < state.settings.key_touch_seconds:
        return
    state.key_touches[key_id] = now
    async with state.db.session() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
        )


def _check_active(user: User) -> None:
    if not user.active:
        raise Unauthorized("This account is deactivated.", code="account_disabled")


async def _group_ids(session: Any, user_id: str) -> tuple[str, ...]:
    rows = await session.scalars(
        select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    )
    return tuple(sorted(rows.all()))


def _actor(user: User, groups: tuple[str, ...], *, kind: str, **ids: str) -> Actor:
    return Actor(
        id=user.id,
        kind=kind,
        name=user.name or user.email,
        roles=frozenset({user.role}),
        attributes={"email": user.email, "groups": groups, **ids},
    )
