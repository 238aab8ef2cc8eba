"""Writing a turn: the user's message and one answer placeholder per model, committed
before any generation starts; then the answers' run ids, checkpoints and final states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database, utcnow
from notewell.kernel.errors import NotFound, PayloadTooLarge, Unprocessable
from notewell.plugins.chat import events
from notewell.plugins.chat.chats import owned_chat, read_chat, stand_in_title, touch
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Chat, Message
from notewell.plugins.chat.schemas import MessageCreate, MessageRead, Regenerate
from notewell.plugins.chat.settings import ChatSettings
from notewell.plugins.chat.targets import PRESET_PREFIX, Target, TargetResolver
from notewell.plugins.chat.threads import leaf_of, load_path, load_tree, owned_message
from notewell.plugins.chat.tree import successive_ids

SIDE_BY_SIDE = "side_by_side"
"""The ``meta`` key of answers written side by side: ``{"group", "column"}``."""


@dataclass
class Answer:
    """An answer to write: its placeholder message, its model and what the model is sent."""

    message: MessageRead
    target: Target
    context: list[dict[str, Any]]
    params: dict[str, Any]


@dataclass
class Turn:
    """What a send (or a regenerate, with no ``prompt``) committed."""

    chat_id: str
    user_id: str
    prompt: MessageRead | None
    answers: list[Answer]
    first_exchange: bool


def context_of(path: list[Message], system_prompt: str, limit: int) -> list[dict[str, Any]]:
    """The messages a model is sent: the system prompt, then the branch (failed or empty
    answers left out), the newest ``limit`` of them when ``limit`` is set."""
    history = [
        {"role": row.role, "content": row.content}
        for row in path
        if row.content and row.role in ("user", "assistant", "system")
    ]
    if limit:
        history = history[-limit:]
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + history


class TurnWriter:
    """Commits turns and records how their answers end."""

    def __init__(
        self, db: Database, publisher: Publisher, resolver: TargetResolver, settings: ChatSettings
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.resolver = resolver
        self.settings = settings

    async def send(self, actor: Actor, chat_id: str, data: MessageCreate) -> Turn:
        """Commit the user's message and the answers' placeholders (nothing else runs yet)."""
        if len(data.content) > self.settings.max_message_chars:
            raise PayloadTooLarge(
                f"The message is {len(data.content)} characters long; the limit is "
                f"{self.settings.max_message_chars}.",
                code="message_too_long",
            )
        async with self.db.session() as session:
            chat = await owned_chat(session, actor, chat_id)
            tree = await load_tree(session, chat.id)
            if "parent_id" in data.model_fields_set:
                parent_id = data.parent_id
                if parent_id is not None and parent_id not in tree:
                    raise NotFound(
                        f"No message {parent_id} in chat {chat_id}.", code="message_not_found"
                    )
            else:
                parent_id = leaf_of(chat, tree)
            targets = await self.resolver.resolve(session, actor, chat, data.models)
            path = await load_path(session, chat.id, parent_id) if parent_id else []
            ids = successive_ids(len(targets) + 1)
            prompt = Message(
                id=ids[0],
                chat_id=chat.id,
                user_id=actor.id,
                parent_id=parent_id,
                role="user",
                content=data.content,
                status="complete",
                meta={},
                seq=0,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            session.add(prompt)
            first = not path
            if data.models:
                chat.models = list(data.models)  # follow-ups go to the same models
            if chat.title_auto and first:
                chat.title = stand_in_title(data.content)
            params = data.params.model_dump(exclude_none=True)
            pairs = zip(ids[1:], targets, strict=True)
            turn = await self._answers(session, actor, chat, [*path, prompt], pairs, params, first)
            turn.prompt = MessageRead.of(prompt)
            chat_read = await read_chat(session, chat)
        await self._announce(turn)
        await self.publisher.chat(events.UPDATED, turn.user_id, chat_read)
        return turn

    async def regenerate(
        self, actor: Actor, chat_id: str, message_id: str, data: Regenerate
    ) -> Turn:
        """A new answer beside an assistant message, or under a user message."""
        async with self.db.session() as session:
            chat, message = await owned_message(session, actor, chat_id, message_id)
            if message.role == "assistant" and message.parent_id:
                parent_id = message.parent_id
                preset = message.preset_id
                default = PRESET_PREFIX + preset if preset else message.model
            elif message.role == "user":
                parent_id, default = message.id, None
            else:
                raise Unprocessable(
                    "Only answers and user messages can be answered again.",
                    code="cannot_regenerate",
                )
            refs = [data.model] if data.model else ([default] if default else None)
            targets = await self.resolver.resolve(session, actor, chat, refs)
            path = await load_path(session, chat.id, parent_id)
            params = data.params.model_dump(exclude_none=True)
            pairs = zip(successive_ids(len(targets)), targets, strict=True)
            # another version of one side-by-side answer takes that answer's column
            column = (message.meta or {}).get(SIDE_BY_SIDE) if message.role == "assistant" else None
            turn = await self._answers(
                session, actor, chat, path, pairs, params, len(path) == 1, column
            )
            chat_read = await read_chat(session, chat)
        await self._announce(turn)
        await self.publisher.chat(events.UPDATED, turn.user_id, chat_read)
        return turn

    async def _answers(
        self,
        session: AsyncSession,
        actor: Actor,
        chat: Chat,
        path: list[Message],
        targets: Iterable[tuple[str, Target]],
        params: dict[str, Any],
        first: bool,
        column: dict[str, Any] | None = None,
    ) -> Turn:
        """Commit one placeholder per target under ``path[-1]``. Several answers written
        together are marked ``meta.side_by_side`` ``{"group": first answer's id,
        "column": n}`` so clients can show them side by side; ``column`` gives a single
        answer an existing group's place instead."""
        parent = path[-1]
        answers = []
        pairs = list(targets)
        for index, (message_id, target) in enumerate(pairs):
            merged = {**target.params, **params}
            meta: dict[str, Any] = {"params": merged} if merged else {}
            if len(pairs) > 1:
                meta[SIDE_BY_SIDE] = {"group": pairs[0][0], "column": index}
            elif column:
                meta[SIDE_BY_SIDE] = dict(column)
            row = Message(
                id=message_id,
                chat_id=chat.id,
                user_id=actor.id,
                parent_id=parent.id,
                role="assistant",
                content="",
                model=target.model,
                preset_id=target.preset_id,
                status="streaming",
                meta=meta,
                seq=0,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            session.add(row)
            context = context_of(path, target.system_prompt, self.settings.max_context_messages)
            answers.append(Answer(MessageRead.of(row), target, context, merged))
        chat.current_message_id = answers[0].message.id
        touch(chat)
        await session.flush()
        return Turn(chat.id, str(actor.id), None, answers, first)

    async def _announce(self, turn: Turn) -> None:
        if turn.prompt is not None:
            await self.publisher.message(events.MESSAGE_CREATED, turn.user_id, turn.prompt)
        for answer in turn.answers:
            await self.publisher.message(events.MESSAGE_CREATED, turn.user_id, answer.message)

    # -- while and after answering -----------------------------------------------------

    async def set_run(self, message_id: str, run_id: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Message).where(Message.id == message_id).values(run_id=run_id)
            )

    async def checkpoint(self, message_id: str, content: str, seq: int) -> None:
        """Save the text so far of an answer that is still streaming."""
        async with self.db.session() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == "streaming")
                .values(content=content, seq=seq, updated_at=utcnow())
            )

    async def finish(self, message_id: str, values: dict[str, Any]) -> MessageRead | None:
        """Write an answer's final state; ``None`` if it was deleted meanwhile.

        ``meta`` in ``values`` is merged into the message's meta.
        """
        async with self.db.session() as session:
            row = await session.scalar(select(Message).where(Message.id == message_id))
            if row is None:
                return None
            meta = values.pop("meta", None)
            if meta:
                row.meta = {**(row.meta or {}), **meta}
            for name, value in values.items():
                setattr(row, name, value)
            await session.flush()
            return MessageRead.of(row)
