"""API keys: create (shown once), list and revoke the caller's own keys."""

from __future__ import annotations

from sqlalchemy import select

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.errors import Forbidden
from notewell.plugins.auth import audit
from notewell.plugins.auth.models import ApiKey
from notewell.plugins.auth.ownership import get_owned, owned_by
from notewell.plugins.auth.state import AuthState
from notewell.plugins.auth.tokens import new_api_key


async def list_keys(state: AuthState, actor: Actor) -> list[ApiKey]:
    """The caller's keys that are not revoked, newest first."""
    async with state.db.session() as session:
        query = owned_by(select(ApiKey), ApiKey, actor).where(ApiKey.revoked_at.is_(None))
        return list((await session.scalars(query.order_by(ApiKey.id.desc()))).all())


async def create_key(
    state: AuthState, actor: Actor, name: str, address: str | None
) -> tuple[ApiKey, str]:
    """A new key for the caller and its plaintext (never stored, never shown again).
    403 ``api_keys_disabled`` when keys are forbidden."""
    if not state.settings.api_keys_enabled:
        raise Forbidden("API keys are disabled on this server.", code="api_keys_disabled")
    plaintext, key_hash, prefix = new_api_key()
    async with state.db.session() as session:
        row = ApiKey(user_id=actor.id, name=name.strip(), prefix=prefix, key_hash=key_hash)
        session.add(row)
        await session.flush()
        audit.record(session, "key_created", actor_id=actor.id, subject_id=actor.id,
                     address=address, key_id=row.id, name=row.name)
    return row, plaintext


async def revoke_key(state: AuthState, actor: Actor, key_id: str, address: str | None) -> None:
    """Revoke one of the caller's keys; someone else's is 404 ``api_key_not_found``."""
    async with state.db.session() as session:
        row = await get_owned(session, ApiKey, key_id, actor, what="api_key")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        audit.record(session, "key_revoked", actor_id=actor.id, subject_id=actor.id,
                     address=address, key_id=row.id)
    # by user, not by key: no key material (not even its hash) travels on the bus
    await state.invalidate(user_id=actor.id)
