"""Export a chat (Notewell JSON or Markdown) or all of a user's chats; import chats from
Notewell JSON, Markdown or Open WebUI's export (see :mod:`formats`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database, utcnow
from notewell.kernel.errors import Unprocessable
from notewell.kernel.ids import new_id
from notewell.plugins.chat import events
from notewell.plugins.chat.chats import owned, owned_chat, tags_of
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.formats import (
    MAX_IMPORT_MESSAGES,
    NOTEWELL_CHAT,
    NOTEWELL_CHATS,
    VERSION,
    ImportedChat,
    to_markdown,
    topological,
)
from notewell.plugins.chat.models import Chat, Message, Tag
from notewell.plugins.chat.schemas import ChatRead
from notewell.plugins.chat.threads import leaf_of, load_path, load_tree
from notewell.plugins.chat.tree import Tree, successive_ids

EXPORT_BATCH = 50


def _message_json(row: Message) -> dict[str, Any]:
    return {
        "id": row.id,
        "parent_id": row.parent_id,
        "role": row.role,
        "content": row.content,
        "model": row.model,
        "status": row.status,
        "usage": row.usage,
        "created_at": row.created_at.isoformat(),
    }


def _chat_json(chat: Chat, tags: list[str], messages: list[Message]) -> dict[str, Any]:
    tree = Tree.of((row.id, row.parent_id) for row in messages)
    return {
        "format": NOTEWELL_CHAT,
        "version": VERSION,
        "chat": {
            "title": chat.title,
            "system_prompt": chat.system_prompt,
            "models": list(chat.models or []),
            "params": dict(chat.params or {}),
            "tags": sorted(tags),
            "pinned": chat.pinned,
            "archived": chat.archived,
            "created_at": chat.created_at.isoformat(),
            "current_message_id": leaf_of(chat, tree),
        },
        "messages": [_message_json(row) for row in messages],
    }


class TransferService:
    """Exports and imports."""

    def __init__(self, db: Database, publisher: Publisher) -> None:
        self.db = db
        self.publisher = publisher

    async def export_json(self, actor: Actor, chat_id: str) -> dict[str, Any]:
        """One chat, every branch."""
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            tags = (await tags_of(session, [chat.id]))[chat.id]
            messages = list(
                await session.scalars(
                    select(Message).where(Message.chat_id == chat.id).order_by(Message.id)
                )
            )
        return _chat_json(chat, tags, messages)

    async def export_markdown(self, actor: Actor, chat_id: str) -> tuple[str, str]:
        """The branch on show as Markdown, and the chat's title."""
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            leaf = leaf_of(chat, await load_tree(session, chat.id))
            path = await load_path(session, chat.id, leaf) if leaf else []
        return to_markdown(chat.title, path), chat.title

    async def export_all(self, actor: Actor) -> AsyncIterator[str]:
        """Every chat of the actor as one ``notewell.chats`` JSON document, in pieces
        (a batch of chats per query, so memory stays flat however many there are)."""
        yield f'{{"format": "{NOTEWELL_CHATS}", "version": {VERSION}, "chats": ['
        cursor, first = "", True
        while True:
            async with self.db.session() as session:
                chats = list(
                    await session.scalars(
                        owned(select(Chat), Chat, actor)
                        .where(Chat.id > cursor)
                        .order_by(Chat.id)
                        .limit(EXPORT_BATCH)
                    )
                )
                if not chats:
                    break
                ids = [chat.id for chat in chats]
                tags = await tags_of(session, ids)
                rows = await session.scalars(
                    select(Message).where(Message.chat_id.in_(ids)).order_by(Message.id)
                )
                by_chat: dict[str, list[Message]] = {chat_id: [] for chat_id in ids}
                for row in rows:
                    by_chat[row.chat_id].append(row)
            for chat in chats:
                piece = json.dumps(_chat_json(chat, tags[chat.id], by_chat[chat.id]))
                yield piece if first else "," + piece
                first = False
            cursor = chats[-1].id
        yield "]}"

    async def import_chats(self, actor: Actor, chats: list[ImportedChat]) -> list[ChatRead]:
        """Write ``chats`` with new ids, all or nothing."""
        if sum(len(chat.messages) for chat in chats) > MAX_IMPORT_MESSAGES:
            raise Unprocessable(
                f"Import at most {MAX_IMPORT_MESSAGES} messages at once.", code="import_too_large"
            )
        created = []
        async with self.db.session() as session:
            for imported in chats:
                created.append(await self._write(session, actor, imported))
        for read in created:
            await self.publisher.chat(events.CREATED, str(actor.id), read)
        return created

    async def _write(self, session: AsyncSession, actor: Actor, imported: ImportedChat) -> ChatRead:
        ordered = topological(imported.messages)
        ids = dict(zip((m.key for m in ordered), successive_ids(len(ordered)), strict=True))
        now = utcnow()
        chat = Chat(
            id=new_id(),
            user_id=actor.id,
            title=imported.title[:200],
            title_auto=False,
            system_prompt=imported.system_prompt,
            models=imported.models,
            params=imported.params,
            current_message_id=ids.get(imported.current_key or ""),
            pinned=imported.pinned,
            archived=imported.archived,
            activity_id=new_id(),
            created_at=imported.created_at or now,
        )
        session.add(chat)
        await session.flush()
        session.add_all(
            Message(
                id=ids[message.key],
                chat_id=chat.id,
                user_id=actor.id,
                parent_id=ids[message.parent_key] if message.parent_key else None,
                role=message.role,
                content=message.content,
                model=message.model,
                status=message.status,
                meta={},
                seq=0,
                created_at=message.created_at or now,
            )
            for message in ordered
        )
        tags = sorted({tag.strip().lower()[:64] for tag in imported.tags if tag.strip()})
        session.add_all(Tag(chat_id=chat.id, name=name, user_id=actor.id) for name in tags)
        await session.flush()
        return ChatRead.of(chat, tags)
