"""Reading and reshaping a chat's message tree: the branch on show, all messages,
switching branches, deleting a message with its replies.

Loading a thread costs a fixed number of queries whatever its length: the chat, its
tags, the branch (one recursive query from the current leaf up) and the tree's
``(id, parent_id)`` pairs (an index-only scan) for the sibling lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import NotFound
from notewell.plugins.chat import events
from notewell.plugins.chat.chats import owned_chat, tags_of, touch
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Chat, Message
from notewell.plugins.chat.schemas import ChatDetail, ChatRead, MessageList, MessageRead
from notewell.plugins.chat.tree import Tree

MAX_PAGE = 500


async def load_tree(session: AsyncSession, chat_id: str) -> Tree:
    """The chat's ``(id, parent_id)`` pairs as a :class:`Tree` (index-only scan)."""
    rows = await session.execute(
        select(Message.id, Message.parent_id).where(Message.chat_id == chat_id)
    )
    return Tree.of((row[0], row[1]) for row in rows)


def _path_query() -> Any:
    """The branch from a leaf up, as one recursive query (built once; ``leaf_id`` and
    ``chat_id`` are bound per call)."""
    step = aliased(Message)
    path = (
        select(Message.id, Message.parent_id, literal(0).label("depth"))
        .where(Message.id == bindparam("leaf_id"), Message.chat_id == bindparam("chat_id"))
        .cte("path", recursive=True)
    )
    path = path.union_all(
        select(step.id, step.parent_id, path.c.depth + 1).join(path, step.id == path.c.parent_id)
    )
    return select(Message).join(path, Message.id == path.c.id).order_by(path.c.depth.desc())


_PATH = _path_query()


async def load_path(session: AsyncSession, chat_id: str, leaf_id: str) -> list[Message]:
    """The messages from the root down to ``leaf_id``, in one recursive query."""
    rows = await session.scalars(_PATH, {"leaf_id": leaf_id, "chat_id": chat_id})
    return list(rows)


async def owned_message(
    session: AsyncSession, actor: Actor, chat_id: str, message_id: str
) -> tuple[Chat, Message]:
    """The actor's chat and one of its messages, or 404."""
    chat = await owned_chat(session, actor, chat_id)
    message = await session.scalar(
        select(Message).where(Message.id == message_id, Message.chat_id == chat.id)
    )
    if message is None:
        raise NotFound(f"No message {message_id} in chat {chat_id}.", code="message_not_found")
    return chat, message


def leaf_of(chat: Chat, tree: Tree) -> str | None:
    """The chat's current leaf, or the newest leaf when it has none (or a stale one)."""
    if chat.current_message_id and chat.current_message_id in tree:
        return chat.current_message_id
    return tree.latest_leaf()


class ThreadService:
    """The messages of the actor's chats."""

    def __init__(self, db: Database, publisher: Publisher) -> None:
        self.db = db
        self.publisher = publisher

    async def thread(self, actor: Actor, chat_id: str) -> ChatDetail:
        """The chat with the branch on show, each message with its siblings' ids."""
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            return await self._detail(session, chat)

    async def _detail(self, session: AsyncSession, chat: Chat) -> ChatDetail:
        tags = (await tags_of(session, [chat.id]))[chat.id]
        tree = await load_tree(session, chat.id)
        leaf = leaf_of(chat, tree)
        path = await load_path(session, chat.id, leaf) if leaf else []
        messages = [MessageRead.of(row, tree.siblings(row.id)) for row in path]
        base = ChatRead.of(chat, tags).model_dump()
        return ChatDetail(
            **base,
            system_prompt=chat.system_prompt,
            params=dict(chat.params or {}),
            current_message_id=leaf,
            messages=messages,
        )

    async def messages(
        self, actor: Actor, chat_id: str, *, cursor: str | None = None, limit: int = 200
    ) -> MessageList:
        """Every message of every branch, oldest first, a page at a time."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(Message).order_by(Message.id).limit(limit + 1)
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            query = query.where(Message.chat_id == chat.id)
            if cursor:
                query = query.where(Message.id > cursor)
            rows = list(await session.scalars(query))
        page = rows[:limit]
        return MessageList(
            data=[MessageRead.of(row) for row in page],
            next_cursor=page[-1].id if len(rows) > limit else None,
        )

    async def message(self, actor: Actor, chat_id: str, message_id: str) -> MessageRead:
        async with self.db.session() as session:
            _, message = await owned_message(session, actor, chat_id, message_id)
            return MessageRead.of(message)

    async def switch(self, actor: Actor, chat_id: str, message_id: str) -> ChatDetail:
        """Show the branch through ``message_id``, down to its newest leaf."""
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            tree = await load_tree(session, chat.id)
            if message_id not in tree:
                raise NotFound(
                    f"No message {message_id} in chat {chat_id}.", code="message_not_found"
                )
            chat.current_message_id = tree.newest_leaf(message_id)
            await session.flush()
            detail = await self._detail(session, chat)
        await self.publisher.chat(events.UPDATED, str(actor.id), ChatRead(**detail.model_dump()))
        return detail

    async def delete(self, actor: Actor, chat_id: str, message_id: str) -> ChatDetail:
        """Delete a message and every reply under it; the branch on show moves up."""
        async with self.db.session() as session:
            chat, message = await owned_message(session, actor, chat_id, message_id)
            tree = await load_tree(session, chat.id)
            gone = tree.subtree(message_id)
            await session.execute(delete(Message).where(Message.id.in_(gone)))
            if chat.current_message_id in gone or chat.current_message_id is None:
                remaining = Tree.of(
                    (mid, parent) for mid, parent in tree.parents.items() if mid not in gone
                )
                parent = message.parent_id
                chat.current_message_id = (
                    remaining.newest_leaf(parent) if parent else remaining.latest_leaf()
                )
            touch(chat)
            await session.flush()
            detail = await self._detail(session, chat)
        await self.publisher.publish(
            events.MESSAGE_DELETED, str(actor.id), chat_id=chat_id, message_ids=sorted(gone)
        )
        return detail
