"""Ownership: scope every query to the caller, so other people's rows do not exist.

Plugins call these for any per-user resource (chats, files, runs, keys, workspaces).
Someone else's row answers 404 — not 403, and never the data — so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.errors import NotFound

T = TypeVar("T")


def owned_by(
    query: Select[Any], model: Any, actor: Actor, *, column: str = "user_id"
) -> Select[Any]:
    """``query`` narrowed to rows of ``model`` whose ``column`` is the actor's id.

    Anonymous actors own nothing. Admin access to other people's rows is a separate,
    explicit query — never a silent widening here.
    """
    if not actor.is_authenticated:
        return query.where(false())
    return query.where(getattr(model, column) == actor.id)


async def get_owned(
    session: AsyncSession,
    model: type[T],
    row_id: Any,
    actor: Actor,
    *,
    column: str = "user_id",
    what: str = "resource",
) -> T:
    """The actor's row ``row_id`` of ``model``, or ``NotFound`` (code ``<what>_not_found``)."""
    query = owned_by(select(model), model, actor, column=column)
    found = await session.scalar(query.where(model.id == row_id))  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(f"No {what} {row_id}.", code=f"{what}_not_found")
    return found  # type: ignore[no-any-return]
