"""Answers as Server-Sent Events, for the client that asked and for those that come back.

Events (each ``data`` is JSON):

- ``created``: ``{"message": MessageRead | null, "answers": [MessageRead]}`` — what a
  send or regenerate committed (the user's message, the answers' placeholders);
- ``message``: ``{"message": MessageRead}`` — on re-attach, the answer as it stands
  (``content`` so far, ``seq`` of the last chunk in it);
- ``chunk``: ``{"message_id", "seq", "content"}`` — the next piece of an answer;
- ``done``: ``{"message": MessageRead}`` — an answer's final state;
- ``end``: ``{}`` — nothing more will come.

A comment line (``: keep-alive``) is sent every ``KEEPALIVE_S`` of silence so that
proxies keep the connection open. Leaving early stops only the listening.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from notewell.kernel.actor import Actor
from notewell.kernel.events import Event
from notewell.plugins.chat import events
from notewell.plugins.chat.generation import Chunk, Done, Live
from notewell.plugins.chat.schemas import MessageRead

if TYPE_CHECKING:
    from notewell.plugins.chat.state import ChatState

KEEPALIVE_S = 15.0
RECHECK_S = 5.0
CATCH_UP_POLL_S = 0.05
Queue = asyncio.Queue[Chunk | Done]


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _dump(message: MessageRead) -> dict[str, Any]:
    return message.model_dump(mode="json")


async def _next(queue: Queue) -> Chunk | Done | None:
    """The next item, or ``None`` after ``KEEPALIVE_S`` of silence."""
    try:
        return await asyncio.wait_for(queue.get(), KEEPALIVE_S)
    except TimeoutError:
        return None


async def turn_stream(
    prompt: MessageRead | None, lives: list[Live], queue: Queue
) -> AsyncIterator[bytes]:
    """The events of a send: ``created``, the answers' chunks and ``done`` s, ``end``.

    ``queue`` was attached to every live answer before they started.
    """
    answers = [_dump(live.message) for live in lives]
    yield sse("created", {"message": _dump(prompt) if prompt else None, "answers": answers})
    pending = {live.id for live in lives}
    try:
        while pending:
            item = await _next(queue)
            if item is None:
                yield b": keep-alive\n\n"
            elif isinstance(item, Chunk):
                yield sse(
                    "chunk",
                    {"message_id": item.message_id, "seq": item.seq, "content": item.content},
                )
            else:
                pending.discard(item.message.id)
                yield sse("done", {"message": _dump(item.message)})
        yield sse("end", {})
    finally:
        for live in lives:
            live.detach(queue)


async def live_stream(live: Live, text: str, seq: int, queue: Queue) -> AsyncIterator[bytes]:
    """Re-attached to an answer of this process: where it stands, then what follows."""
    current = live.message.model_copy(update={"content": text, "status": "streaming"})
    yield sse("message", {"message": _dump(current), "seq": seq})
    try:
        while True:
            item = await _next(queue)
            if item is None:
                yield b": keep-alive\n\n"
            elif isinstance(item, Chunk):
                yield sse(
                    "chunk",
                    {"message_id": item.message_id, "seq": item.seq, "content": item.content},
                )
            else:
                yield sse("done", {"message": _dump(item.message)})
                break
        yield sse("end", {})
    finally:
        live.detach(queue)


async def finished_stream(message: MessageRead) -> AsyncIterator[bytes]:
    """An answer that has ended (or was never streaming): it, whole."""
    yield sse("message", {"message": _dump(message), "seq": message.seq})
    yield sse("done", {"message": _dump(message)})
    yield sse("end", {})


class RemoteFollower:
    """Follows an answer written by another process (another replica), through the bus:
    the chunk and update events after the last saved checkpoint.

    Subscribe (:meth:`start`) before reading the checkpoint, so that nothing falls
    between the two; chunks the checkpoint already holds are skipped by ``seq``.
    """

    def __init__(self, kernel: Any, message_id: str) -> None:
        self.kernel = kernel
        self.message_id = message_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.kernel.bus.subscribe(self._on_event, "chat.message_")

    async def _on_event(self, event: Event) -> None:
        data = event.data
        if data.get("message_id") == self.message_id or (
            event.topic == events.MESSAGE_UPDATED
            and (data.get("message") or {}).get("id") == self.message_id
        ):
            self.queue.put_nowait(event)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _catch_up(self, saved: MessageRead, reload: Any) -> tuple[MessageRead, list[Event]]:
        """The checkpoint to start from, and the events already received.

        Chunks published just before this replica subscribed are in neither the
        checkpoint nor the queue; when the first live chunk shows such a gap, wait for a
        checkpoint that covers it (they are saved every few seconds) or for the end.
        """
        try:
            first = await asyncio.wait_for(self.queue.get(), RECHECK_S)
        except TimeoutError:
            return saved, []
        if first.topic == events.MESSAGE_CHUNK:
            wanted = first.data["seq"] - 1
            while saved.status == "streaming" and saved.seq < wanted:
                await asyncio.sleep(CATCH_UP_POLL_S)
                saved = await reload()
        return saved, [first]

    async def _next(self, held: list[Event]) -> Event:
        if held:
            return held.pop(0)
        return await asyncio.wait_for(self.queue.get(), RECHECK_S)

    async def stream(self, saved: MessageRead, reload: Any) -> AsyncIterator[bytes]:
        """``saved`` is the checkpoint; ``reload()`` reads the message again (to notice an
        answer whose writer died without a final event)."""
        saved, held = await self._catch_up(saved, reload)
        seq = saved.seq
        yield sse("message", {"message": _dump(saved), "seq": seq})
        if saved.status != "streaming":
            yield sse("done", {"message": _dump(saved)})
            yield sse("end", {})
            self.close()
            return
        try:
            while True:
                try:
                    event = await self._next(held)
                except TimeoutError:
                    current: MessageRead = await reload()
                    if current.status != "streaming":
                        yield sse("done", {"message": _dump(current)})
                        break
                    yield b": keep-alive\n\n"
                    continue
                if event.topic == events.MESSAGE_CHUNK and event.data["seq"] > seq:
                    seq = event.data["seq"]
                    yield sse("chunk", {k: event.data[k] for k in ("message_id", "seq", "content")})
                elif event.topic == events.MESSAGE_UPDATED:
                    message = event.data["message"]
                    if message.get("status") != "streaming":
                        yield sse("done", {"message": message})
                        break
            yield sse("end", {})
        finally:
            self.close()


async def follow(
    state: ChatState, kernel: Any, actor: Actor, chat_id: str, message_id: str
) -> AsyncIterator[bytes]:
    """The events of one answer for a client that (re-)attaches: 404 unless it is the
    actor's; live here, live on another replica, or already ended."""
    message = await state.threads.message(actor, chat_id, message_id)
    live = state.generations.live.get(message_id)
    if live is not None:
        queue: Queue = asyncio.Queue()
        text, seq = live.attach(queue)
        return live_stream(live, text, seq, queue)
    if message.status != "streaming":
        return finished_stream(message)
    follower = RemoteFollower(kernel, message_id)
    follower.start()
    saved = await state.threads.message(actor, chat_id, message_id)
    if saved.status != "streaming":
        follower.close()
        return finished_stream(saved)
    return follower.stream(saved, lambda: state.threads.message(actor, chat_id, message_id))
