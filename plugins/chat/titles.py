"""Automatic titles: after a chat's first answer, a run of the title pipeline writes one.

The chat keeps its stand-in title (the prompt's first words) until then, and a title the
user chose is never replaced (``title_auto`` turns false when they rename it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import NotewellError
from notewell.plugins.chat import events
from notewell.plugins.chat.chats import read_chat
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Chat
from notewell.plugins.chat.settings import ChatSettings

log = logging.getLogger("notewell.chat")

MAX_TITLE = 80
PROMPT_CHARS = 2000


class Titler:
    """Runs the title pipeline in the background, at most once at a time per chat."""

    def __init__(
        self, kernel: Any, db: Database, publisher: Publisher, settings: ChatSettings
    ) -> None:
        self.kernel = kernel
        self.db = db
        self.publisher = publisher
        self.settings = settings
        self.running: dict[str, asyncio.Task[None]] = {}

    def soon(self, actor: Actor, chat_id: str, model: str, prompt: str, answer: str) -> None:
        """Title ``chat_id`` in the background if it still wants an automatic title."""
        if not self.settings.auto_title or chat_id in self.running:
            return
        task = asyncio.get_running_loop().create_task(
            self.write(actor, chat_id, model, prompt, answer)
        )
        self.running[chat_id] = task
        task.add_done_callback(lambda _: self.running.pop(chat_id, None))

    async def write(
        self, actor: Actor, chat_id: str, model: str, prompt: str, answer: str
    ) -> str | None:
        """Run the title pipeline and store its title; the title, or ``None``."""
        async with self.db.session() as session:
            wanted = await session.scalar(
                select(Chat.title_auto).where(Chat.id == chat_id, Chat.user_id == actor.id)
            )
        if not wanted:
            return None
        inputs = {
            "model": self.settings.title_model or model,
            "prompt": prompt[:PROMPT_CHARS],
            "answer": answer[:PROMPT_CHARS],
        }
        try:
            pipeline = await self.kernel.pipelines.find(self.settings.title_pipeline)
            handle = await self.kernel.pipelines.start_run(pipeline, inputs, actor=actor)
            run = await handle.wait()
        except NotewellError as exc:
            log.warning("could not title chat %s: %s", chat_id, exc.code)
            return None
        title = str((run.outputs or {}).get("title") or "").strip()[:MAX_TITLE]
        if run.status != "succeeded" or not title:
            log.info("title run %s of chat %s ended %s", run.id, chat_id, run.status)
            return None
        try:
            return await self._store(actor, chat_id, title)
        except SQLAlchemyError:
            log.warning("could not store the title of chat %s", chat_id, exc_info=True)
            return None

    async def _store(self, actor: Actor, chat_id: str, title: str) -> str | None:
        async with self.db.session() as session:
            result = await session.execute(
                update(Chat)
                .where(Chat.id == chat_id, Chat.title_auto.is_(True))
                .values(title=title, title_auto=False)
            )
            if not getattr(result, "rowcount", 0):
                return None  # renamed (or deleted) meanwhile
            chat = await session.scalar(select(Chat).where(Chat.id == chat_id))
            if chat is None:
                return None
            read = await read_chat(session, chat)
        await self.publisher.chat(events.UPDATED, str(actor.id), read)
        return title

    async def shutdown(self) -> None:
        for task in list(self.running.values()):
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)
