"""Sign-in throttling: temporary lockout after repeated failures.

Failures are counted per normalised e-mail (whether or not such an account exists, so
that a lockout reveals nothing) and per client address, over a sliding window of
``lockout_minutes``. While either count is at its threshold, sign-in answers 429 —
even with the right password — until the oldest counted failure leaves the window.
Rows live in the database so that every server replica sees the same counts.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.db import utcnow
from notewell.kernel.errors import TooManyRequests
from notewell.plugins.auth import audit
from notewell.plugins.auth.models import LoginAttempt
from notewell.plugins.auth.settings import AuthSettings

UNKNOWN_ADDRESS = "unknown"


async def _locked_until(
    session: AsyncSession, column: str, value: str, threshold: int, window: timedelta
) -> datetime | None:
    since = utcnow() - window
    field = getattr(LoginAttempt, column)
    times = (
        await session.scalars(
            select(LoginAttempt.created_at)
            .where(field == value, LoginAttempt.created_at > since)
            .order_by(LoginAttempt.created_at.desc())
            .limit(threshold)
        )
    ).all()
    if len(times) < threshold:
        return None
    return times[-1] + window


async def check(
    session: AsyncSession, settings: AuthSettings, email: str, address: str | None
) -> None:
    """Raise 429 ``signin_locked`` while the account or the address is locked out."""
    window = timedelta(minutes=settings.lockout_minutes)
    until = [
        await _locked_until(session, "email", email, settings.lockout_threshold, window),
        await _locked_until(
            session, "address", address or UNKNOWN_ADDRESS, settings.address_threshold, window
        ),
    ]
    latest = max((moment for moment in until if moment is not None), default=None)
    if latest is not None:
        seconds = max(1, math.ceil((latest - utcnow()).total_seconds()))
        raise TooManyRequests(
            "Too many failed sign-ins. Try again later.",
            code="signin_locked",
            headers={"Retry-After": str(seconds)},
        )


async def record_failure(
    session: AsyncSession,
    settings: AuthSettings,
    email: str,
    address: str | None,
    user_id: str | None,
) -> None:
    """Count a failed sign-in; audit it, and the lockout it may start."""
    address = address or UNKNOWN_ADDRESS
    window = timedelta(minutes=settings.lockout_minutes)
    await session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < utcnow() - window))
    session.add(LoginAttempt(email=email, address=address))
    await session.flush()
    audit.record(session, "signin_failed", subject_id=user_id, address=address)
    for column, value, threshold in (
        ("email", email, settings.lockout_threshold),
        ("address", address, settings.address_threshold),
    ):
        if await _locked_until(session, column, value, threshold, window) is not None:
            audit.record(session, "lockout", subject_id=user_id, address=address, scope=column)


async def clear(session: AsyncSession, email: str) -> None:
    """Forget an account's failures after a successful sign-in."""
    await session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
