"""Accounts and sessions: sign-up, sign-in, sign-out, password changes, user look-ups.

No Quart here: callers pass the client's address and user agent in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.db import utcnow
from notewell.kernel.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from notewell.kernel.ids import new_id
from notewell.plugins.auth import audit, throttle
from notewell.plugins.auth.models import Group, GroupMember, User
from notewell.plugins.auth.models import Session as SessionRow
from notewell.plugins.auth.state import AuthState

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIRST_USER_LOCK = 0x6E776175  # "nwau"


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, as recorded on sessions and audit events."""

    address: str | None = None
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The result of a sign-up or sign-in."""

    user: User
    groups: list[Group]
    token: str
    session_id: str
    max_age: int


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased, so that addresses are unique case-insensitively."""
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalised address, or 422 ``invalid_email``."""
    normal = normalise_email(email)
    if not _EMAIL.match(normal) or len(normal) > 254:
        raise Unprocessable("That is not a valid e-mail address.", code="invalid_email")
    return normal


def check_password_policy(state: AuthState, password: str) -> None:
    """422 ``weak_password`` unless the password meets the minimum policy."""
    minimum = state.settings.password_min_length
    if len(password) < minimum or not password.strip():
        raise Unprocessable(
            f"Choose a password of at least {minimum} characters.", code="weak_password"
        )


async def create_user(
    state: AuthState, session: AsyncSession, *, email: str, password: str | None, name: str,
    role: str | None = None,
) -> User:
    """Insert an account; the very first becomes admin, later ones get ``role`` or the
    default role. 409 ``email_taken`` if the address is in use."""
    password_hash = await state.passwords.hash(password) if password is not None else None
    if state.db.dialect == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _FIRST_USER_LOCK})
    user = User(email=email, name=name.strip(), password_hash=password_hash,
                role=role or state.settings.default_role, active=True)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # the whole transaction is rolled back as this propagates
        raise Conflict(
            "An account cannot be created with these details.", code="email_taken"
        ) from None
    # counted after the insert, under the write lock (SQLite) or advisory lock (PostgreSQL)
    if role is None and await session.scalar(select(func.count()).select_from(User)) == 1:
        user.role = "admin"
    state.has_users = True
    return user


async def start_session(
    state: AuthState, session: AsyncSession, user: User, client: Client
) -> SignedIn:
    """Open a session for ``user``; return its token."""
    lifetime = timedelta(hours=state.settings.session_lifetime_hours)
    session_id = new_id()
    token, secret_hash = state.signer.new_session_token(session_id)
    session.add(SessionRow(id=session_id, user_id=user.id, secret_hash=secret_hash,
                           expires_at=utcnow() + lifetime, address=client.address,
                           user_agent=client.user_agent[:300]))
    groups = await groups_of(session, user.id)
    return SignedIn(user, groups, token, session_id, int(lifetime.total_seconds()))


async def signup(
    state: AuthState, *, email: str, password: str, name: str, client: Client
) -> SignedIn:
    """Create an account and sign it in. 403 ``signup_disabled`` when sign-up is off
    (except for the very first account, so that a fresh install can be set up)."""
    email = check_email(email)
    check_password_policy(state, password)
    async with state.db.session() as session:
        if not state.settings.signup_enabled and await has_users(state, session):
            raise Forbidden("Sign-up is disabled on this server.", code="signup_disabled")
        user = await create_user(state, session, email=email, password=password, name=name)
        audit.record(session, "signup", actor_id=user.id, subject_id=user.id,
                     address=client.address, role=user.role)
        return await start_session(state, session, user, client)


async def signin(state: AuthState, *, email: str, password: str, client: Client) -> SignedIn:
    """Check the password; 401 ``invalid_credentials`` alike for unknown e-mail and wrong
    password, 429 ``signin_locked`` while locked out."""
    email = normalise_email(email)
    async with state.db.session() as session:
        await throttle.check(session, state.settings, email, client.address)
        user = await session.scalar(select(User).where(User.email == email))
    ok = await state.passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None:
        async with state.db.session() as session:
            await throttle.record_failure(session, state.settings, email, client.address,
                                          user.id if user else None)
        raise Unauthorized("The e-mail or password is incorrect.", code="invalid_credentials")
    if not user.active:
        raise Unauthorized("This account is deactivated.", code="account_disabled")
    async with state.db.session() as session:
        await throttle.clear(session, email)
        if user.password_hash and state.passwords.needs_rehash(user.password_hash):
            await session.execute(update(User).where(User.id == user.id).values(
                password_hash=await state.passwords.hash(password)))
        audit.record(session, "signin", actor_id=user.id, subject_id=user.id,
                     address=client.address)
        return await start_session(state, session, user, client)


async def signout(state: AuthState, actor: Actor, client: Client) -> None:
    """Revoke the session the actor signed in with (a no-op for API keys)."""
    session_id = actor.attributes.get("session_id")
    if not session_id:
        return
    await revoke_sessions(state, actor.id or "", only=session_id)
    async with state.db.session() as session:
        audit.record(session, "signout", actor_id=actor.id, subject_id=actor.id,
                     address=client.address)


async def revoke_sessions(
    state: AuthState, user_id: str, *, only: str | None = None, keep: str | None = None
) -> None:
    """Revoke one session (``only``) or all of a user's sessions but ``keep``."""
    statement = update(SessionRow).where(
        SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None)
    )
    if only is not None:
        statement = statement.where(SessionRow.id == only)
    if keep is not None:
        statement = statement.where(SessionRow.id != keep)
    async with state.db.session() as session:
        await session.execute(statement.values(revoked_at=utcnow()))
    await state.invalidate(user_id=user_id)


async def change_password(
    state: AuthState, actor: Actor, *, current: str, new: str, client: Client
) -> None:
    """Replace the caller's password and revoke their other sessions.
    400 ``wrong_password`` if ``current`` is wrong (accounts without one skip that check)."""
    check_password_policy(state, new)
    async with state.db.session() as session:
        user = await session.get(User, actor.id)
        if user is None:
            raise NotFound("No such account.", code="user_not_found")
        if user.password_hash is not None and not await state.passwords.verify(
            user.password_hash, current
        ):
            raise BadRequest("The current password is incorrect.", code="wrong_password")
        user.password_hash = await state.passwords.hash(new)
        audit.record(session, "password_changed", actor_id=actor.id, subject_id=actor.id,
                     address=client.address)
    await revoke_sessions(state, user.id, keep=actor.attributes.get("session_id"))


async def set_password(state: AuthState, email: str, password: str) -> User:
    """An operator's reset: new password, every session revoked."""
    check_password_policy(state, password)
    async with state.db.session() as session:
        user = await session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            raise NotFound(f"No account with e-mail {email}.", code="user_not_found")
        user.password_hash = await state.passwords.hash(password)
        audit.record(session, "password_reset", subject_id=user.id)
    await revoke_sessions(state, user.id)
    return user


async def has_users(state: AuthState, session: AsyncSession) -> bool:
    """Whether any account exists (remembered once true)."""
    if not state.has_users:
        state.has_users = bool(await session.scalar(select(User.id).limit(1)))
    return state.has_users


async def any_users(state: AuthState) -> bool:
    """Whether any account exists, in a session of its own."""
    async with state.db.session() as session:
        return await has_users(state, session)


async def groups_of(session: AsyncSession, user_id: str) -> list[Group]:
    """The groups ``user_id`` belongs to, by name."""
    rows = await session.scalars(
        select(Group).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id).order_by(Group.name)
    )
    return list(rows.all())


async def profile(state: AuthState, user_id: str) -> tuple[User, list[Group]]:
    """The account and its groups; 404 ``user_not_found``."""
    async with state.db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("No such account.", code="user_not_found")
        return user, await groups_of(session, user_id)
