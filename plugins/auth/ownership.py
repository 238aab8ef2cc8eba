"""Scope queries to the caller: another user's row is simply not found (404, not 403).

This is the plugin-local twin of the helper proposed for ``notewell.kernel.ownership``
(see docs/auth.md); other plugins should use the kernel's once it exists.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.errors import NotFound

T = TypeVar("T")


def owned_by(query: Select[Any], model: type[Any], actor: Actor, *,
             column: str = "user_id") -> Select[Any]:
    """``query`` narrowed to rows of ``model`` whose ``column`` is the actor's id.

    Anonymous actors match nothing. Admins are not exempt: an admin reading other
    people's data goes through an admin route that says so.
    """
    if not actor.is_authenticated:
        return query.where(false())
    return query.where(getattr(model, column) == actor.id)


async def get_owned(session: AsyncSession, model: type[T], row_id: str, actor: Actor, *,
                    column: str = "user_id", what: str = "resource") -> T:
    """The actor's row ``row_id`` of ``model``, or 404 ``<what>_not_found``."""
    found = await session.scalar(
        owned_by(select(model), model, actor, column=column).where(
            model.id == row_id  # type: ignore[attr-defined]
        )
    )
    if found is None:
        raise NotFound(f"No {what.replace('_', ' ')} {row_id}.", code=f"{what}_not_found")
    return found
