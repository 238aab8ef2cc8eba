"""After a crash: answers left ``streaming`` by a process that is gone get their final
state from what was saved (the last checkpoint), marked ``incomplete`` (or ``failed``
when nothing was saved), so no answer spins forever."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from notewell.kernel.actor import SYSTEM
from notewell.kernel.db import Database, utcnow
from notewell.kernel.errors import NotewellError
from notewell.plugins.chat import events
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Message
from notewell.plugins.chat.turns import TurnWriter

log = logging.getLogger("notewell.chat")

ACTIVE_RUN = ("queued", "running")
UNSTARTED_GRACE = timedelta(minutes=1)
INTERRUPTED = {
    "code": "interrupted",
    "message": "The server stopped while this answer was written; what was saved is kept.",
}


async def recover(
    kernel: Any, db: Database, writer: TurnWriter, publisher: Publisher, live: set[str]
) -> list[str]:
    """Finish the answers no live process is writing; their ids."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Message.id, Message.run_id, Message.content, Message.updated_at).where(
                    Message.status == "streaming"
                )
            )
        ).all()
    finished = []
    for message_id, run_id, content, updated_at in rows:
        if message_id in live or not await _orphaned(kernel, run_id, updated_at):
            continue
        values = {"status": "incomplete" if content else "failed", "error": dict(INTERRUPTED)}
        final = await writer.finish(message_id, values)
        if final is not None:
            finished.append(message_id)
            row_user = await _owner(db, message_id)
            if row_user:
                await publisher.message(events.MESSAGE_UPDATED, row_user, final)
    if finished:
        log.info("marked %d interrupted answer(s) incomplete", len(finished))
    return finished


async def _orphaned(kernel: Any, run_id: str | None, updated_at: Any) -> bool:
    if run_id is None:
        return bool(utcnow() - updated_at > UNSTARTED_GRACE)
    try:
        run = await kernel.pipelines.get(run_id, SYSTEM)
    except NotewellError:
        return True  # the run record is gone
    return run.status not in ACTIVE_RUN


async def _owner(db: Database, message_id: str) -> str | None:
    async with db.session() as session:
        return await session.scalar(select(Message.user_id).where(Message.id == message_id))
