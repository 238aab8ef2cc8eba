"""Read-only share links: a snapshot of a chat's branch on show, readable by anyone who
has the link's unguessable token, until the owner revokes it.

Sharing again replaces the snapshot (the link stays the same). The snapshot holds
roles, contents and models only — never ids of the owner, runs or other branches.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database, utcnow
from notewell.kernel.errors import NotFound
from notewell.kernel.ids import new_id
from notewell.plugins.chat.chats import owned_chat
from notewell.plugins.chat.models import Share
from notewell.plugins.chat.schemas import SharedChat, ShareRead
from notewell.plugins.chat.threads import leaf_of, load_path, load_tree

SHARE_PATH = "/shared/"
TOKEN_BYTES = 24


def share_read(row: Share) -> ShareRead:
    return ShareRead(
        token=row.token,
        path=SHARE_PATH + row.token,
        chat_id=row.chat_id,
        created_at=row.created_at,
    )


class ShareService:
    """Creates, reads and revokes share links."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def share(self, actor: Actor, chat_id: str) -> ShareRead:
        """Share the branch on show (or refresh the snapshot of an existing link)."""
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            tree = await load_tree(session, chat.id)
            leaf = leaf_of(chat, tree)
            path = await load_path(session, chat.id, leaf) if leaf else []
            snapshot = {
                "title": chat.title,
                "messages": [
                    {
                        "role": row.role,
                        "content": row.content,
                        "model": row.model,
                        "status": row.status,
                        "created_at": row.created_at.isoformat(),
                    }
                    for row in path
                ],
            }
            row = await session.scalar(select(Share).where(Share.chat_id == chat.id))
            if row is None:
                row = Share(
                    id=new_id(),
                    chat_id=chat.id,
                    user_id=actor.id,
                    token=secrets.token_urlsafe(TOKEN_BYTES),
                )
                session.add(row)
            row.snapshot = snapshot
            row.created_at = utcnow()
            await session.flush()
            return share_read(row)

    async def get(self, actor: Actor, chat_id: str) -> ShareRead:
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            row = await session.scalar(select(Share).where(Share.chat_id == chat.id))
        if row is None:
            raise NotFound(f"Chat {chat_id} is not shared.", code="share_not_found")
        return share_read(row)

    async def revoke(self, actor: Actor, chat_id: str) -> None:
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            result = await session.execute(delete(Share).where(Share.chat_id == chat.id))
        if not getattr(result, "rowcount", 0):
            raise NotFound(f"Chat {chat_id} is not shared.", code="share_not_found")

    async def shared(self, token: str) -> SharedChat:
        """What the link shows; 404 ``share_not_found`` for an unknown or revoked token."""
        row = None
        if 16 <= len(token) <= 64:
            async with self.db.session() as session:
                row = await session.scalar(select(Share).where(Share.token == token))
        if row is None:
            raise NotFound("This share link does not exist or was revoked.", code="share_not_found")
        return SharedChat(
            title=str(row.snapshot.get("title", "")),
            shared_at=row.created_at,
            messages=list(row.snapshot.get("messages", [])),
        )
