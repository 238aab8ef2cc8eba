"""Chats: create, list (cursor pages over 10,000s per user), change, tag, delete.

Every query is scoped to the caller: another user's chat is simply not found (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import NotFound
from notewell.kernel.ids import new_id
from notewell.plugins.chat import events
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Chat, Folder, Message, Preset, Share, Tag
from notewell.plugins.chat.schemas import (
    ChatCreate,
    ChatList,
    ChatRead,
    ChatUpdate,
    TagCount,
)

MAX_PAGE = 200
TITLE_CHARS = 60


def owned(query: Select[Any], model: type[Any], actor: Actor) -> Select[Any]:
    """``query`` narrowed to the actor's rows of ``model``; anonymous actors get none."""
    if not actor.is_authenticated:
        return query.where(false())
    return query.where(model.user_id == actor.id)


async def owned_chat(session: AsyncSession, actor: Actor, chat_id: str) -> Chat:
    """The actor's chat ``chat_id``, or 404 ``chat_not_found``."""
    chat = await session.scalar(owned(select(Chat), Chat, actor).where(Chat.id == chat_id))
    if chat is None:
        raise NotFound(f"No chat {chat_id}.", code="chat_not_found")
    return chat


async def check_folder(session: AsyncSession, actor: Actor, folder_id: str | None) -> None:
    """404 ``folder_not_found`` unless ``folder_id`` is ``None`` or the actor's folder."""
    if folder_id is None:
        return
    found = await session.scalar(
        owned(select(Folder.id), Folder, actor).where(Folder.id == folder_id)
    )
    if found is None:
        raise NotFound(f"No folder {folder_id}.", code="folder_not_found")


async def check_preset(session: AsyncSession, actor: Actor, preset_id: str | None) -> None:
    """404 ``preset_not_found`` unless ``preset_id`` is ``None`` or the actor's preset."""
    if preset_id is None:
        return
    found = await session.scalar(
        owned(select(Preset.id), Preset, actor).where(Preset.id == preset_id)
    )
    if found is None:
        raise NotFound(f"No preset {preset_id}.", code="preset_not_found")


async def tags_of(session: AsyncSession, chat_ids: Sequence[str]) -> dict[str, list[str]]:
    """Tag names per chat, for a page of chats, in one query."""
    found: dict[str, list[str]] = {chat_id: [] for chat_id in chat_ids}
    if chat_ids:
        rows = await session.execute(
            select(Tag.chat_id, Tag.name).where(Tag.chat_id.in_(list(chat_ids)))
        )
        for chat_id, name in rows:
            found[chat_id].append(name)
    return found


async def read_chat(session: AsyncSession, chat: Chat) -> ChatRead:
    return ChatRead.of(chat, (await tags_of(session, [chat.id]))[chat.id])


def stand_in_title(text: str) -> str:
    """A title from the first line of a prompt, cut at a word near ``TITLE_CHARS``."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if len(line) <= TITLE_CHARS:
        return line or "New chat"
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0] or line[:TITLE_CHARS]
    return cut.rstrip(" ,.;:") + "…"


def touch(chat: Chat) -> None:
    """Mark ``chat`` as just active: it moves to the top of its lists."""
    chat.activity_id = new_id()


class ChatService:
    """The chats of each user."""

    def __init__(self, db: Database, publisher: Publisher) -> None:
        self.db = db
        self.publisher = publisher

    async def create(self, actor: Actor, data: ChatCreate) -> ChatRead:
        async with self.db.session() as session:
            await check_folder(session, actor, data.folder_id)
            await check_preset(session, actor, data.preset_id)
            chat = Chat(
                id=new_id(),
                user_id=actor.id,
                title=data.title or "New chat",
                title_auto=not data.title,
                folder_id=data.folder_id,
                preset_id=data.preset_id,
                system_prompt=data.system_prompt,
                models=list(data.models),
                params=data.params.model_dump(exclude_none=True),
                pinned=data.pinned,
                archived=False,
                activity_id=new_id(),
            )
            session.add(chat)
            session.add_all(Tag(chat_id=chat.id, name=n, user_id=actor.id) for n in data.tags)
            await session.flush()
            read = ChatRead.of(chat, list(data.tags))
        await self.publisher.chat(events.CREATED, str(actor.id), read)
        return read

    async def get(self, actor: Actor, chat_id: str) -> ChatRead:
        async with self.db.session() as session:
            return await read_chat(session, await owned_chat(session, actor, chat_id))

    async def page(
        self,
        actor: Actor,
        *,
        archived: bool = False,
        pinned: bool | None = None,
        folder_id: str | None = None,
        tag: str | None = None,
        title: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ChatList:
        """A page of chats, most recently active first (see :func:`list_query`)."""
        limit = max(1, min(limit, MAX_PAGE))
        query = list_query(
            actor,
            archived=archived,
            pinned=pinned,
            folder_id=folder_id,
            tag=tag,
            title=title,
            cursor=cursor,
            limit=limit,
        )
        async with self.db.session() as session:
            rows = list(await session.scalars(query))
            page = rows[:limit]
            tags = await tags_of(session, [chat.id for chat in page])
        data = [ChatRead.of(chat, tags[chat.id]) for chat in page]
        return ChatList(data=data, next_cursor=page[-1].activity_id if len(rows) > limit else None)

    async def update(self, actor: Actor, chat_id: str, data: ChatUpdate) -> ChatRead:
        changes = data.model_dump(exclude_unset=True)
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            if "folder_id" in changes:
                await check_folder(session, actor, data.folder_id)
            if "preset_id" in changes:
                await check_preset(session, actor, data.preset_id)
            tags = changes.pop("tags", None)
            if "params" in changes:
                changes["params"] = data.params.model_dump(exclude_none=True) if data.params else {}
            if changes.get("title") is not None:
                chat.title_auto = False
            for name, value in changes.items():
                if value is not None or name in ("folder_id", "preset_id"):
                    setattr(chat, name, value)
            if tags is not None:
                await session.execute(delete(Tag).where(Tag.chat_id == chat.id))
                session.add_all(Tag(chat_id=chat.id, name=n, user_id=actor.id) for n in tags)
            touch(chat)
            await session.flush()
            read = await read_chat(session, chat)
        await self.publisher.chat(events.UPDATED, str(actor.id), read)
        return read

    async def delete(self, actor: Actor, chat_id: str) -> None:
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            await session.delete(chat)
        await self.publisher.publish(events.DELETED, str(actor.id), chat_id=chat_id)

    async def tags(self, actor: Actor) -> list[TagCount]:
        """The actor's tag names with how many chats carry each."""
        query = (
            owned(select(Tag.name, func.count()), Tag, actor).group_by(Tag.name).order_by(Tag.name)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [TagCount(name=name, count=count) for name, count in rows]

    async def delete_user(self, user_id: str) -> None:
        """Every row of ``user_id`` (the ``on_user_deleted`` hook), in one transaction."""
        async with self.db.session() as session:
            for model in (Share, Tag, Message, Chat, Preset, Folder):
                await session.execute(delete(model).where(model.user_id == user_id))


def list_query(
    actor: Actor,
    *,
    archived: bool,
    pinned: bool | None,
    folder_id: str | None,
    tag: str | None,
    title: str | None,
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """The listing query: each filter has an index that starts with the user and ends
    with ``activity_id``, so a page is an index range scan, however many chats there are.
    """
    query = owned(select(Chat), Chat, actor)
    if folder_id is not None:
        query = query.where(Chat.folder_id == folder_id, Chat.archived == archived)
    elif pinned is not None:
        query = query.where(Chat.pinned == pinned, Chat.archived == archived)
    else:
        query = query.where(Chat.archived == archived)
    if tag:  # from the tag's index to its chats: as costly as the chats with the tag
        query = query.join(Tag, Tag.chat_id == Chat.id).where(
            Tag.user_id == actor.id, Tag.name == tag
        )
    if title:
        escaped = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Chat.title.ilike(f"%{escaped}%", escape="\\"))
    if cursor:
        query = query.where(Chat.activity_id < cursor)
    return query.order_by(Chat.activity_id.desc()).limit(limit + 1)
