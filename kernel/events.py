"""The event bus: one interface, an in-process backend and a Redis pub/sub backend.

An event is a topic (``run.step_finished``, ``chat.message_created``), a JSON payload
and, usually, the user it concerns; the real-time endpoint forwards each event to that
user's Socket.IO room (``user:<id>``) and admins' events to the ``admins`` room.

Subscribers are async callables; a slow or failing subscriber never blocks the
publisher or the other subscribers. With Redis, every process sees every event,
whichever process published it (server replicas and Celery workers alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from notewell.kernel.ids import new_id

log = logging.getLogger("notewell.events")


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``user_id`` routes it; ``None`` means admins only."""

    topic: str
    data: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    id: str = field(default_factory=new_id)

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-able data (``topic``, ``data``, ``user_id``, ``id``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict`'s output; a missing ``id`` gets a new one."""
        return cls(
            topic=value["topic"],
            data=value.get("data") or {},
            user_id=value.get("user_id"),
            id=value.get("id") or new_id(),
        )


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    """What every backend provides."""

    async def start(self) -> None:
        """Connect; called once when the app starts serving."""

    async def stop(self) -> None:
        """Disconnect and wait for in-flight deliveries."""

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber in every process."""

    def subscribe(self, handler: Handler, prefix: str = "") -> Callable[[], None]:
        """Call ``handler`` for each event whose topic starts with ``prefix``.

        Returns a function that unsubscribes.
        """
        ...


class Subscription:
    """One subscriber: its own queue and task, so that it sees events in order and a
    slow handler delays nobody else."""

    def __init__(self, prefix: str, handler: Handler) -> None:
        self.prefix = prefix
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        """Queue ``event`` if its topic matches; the first one starts the drain task."""
        if not event.topic.startswith(self.prefix):
            return
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        self.queue.put_nowait(event)

    async def _drain(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.handler(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.topic)
            finally:
                self.queue.task_done()

    async def close(self, timeout: float = 5.0) -> None:
        """Let queued events finish (up to ``timeout`` seconds), then end the task."""
        task, self.task = self.task, None
        if task is None:
            return
        if not task.done():
            try:
                await asyncio.wait_for(self.queue.join(), timeout)
            except TimeoutError:
                log.warning("event subscriber still busy at shutdown; dropping its queue")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def cancel(self) -> None:
        """End the task now, dropping queued events (for unsubscribing)."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()


class LocalBus:
    """The in-process backend: events reach subscribers in this process only."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        """Nothing to connect to."""
        return None

    async def stop(self) -> None:
        """Let every subscriber finish its queued events, then drop the subscriptions."""
        subscriptions, self._subscriptions = self._subscriptions, []
        await asyncio.gather(*(sub.close() for sub in subscriptions))

    async def publish(self, event: Event) -> None:
        """Queue ``event`` for this process's subscribers; returns without waiting for them."""
        self.deliver(event)

    def subscribe(self, handler: Handler, prefix: str = "") -> Callable[[], None]:
        """Call ``handler`` for each event whose topic starts with ``prefix``, in order.

        Returns a function that unsubscribes (events still queued for it are dropped).
        """
        subscription = Subscription(prefix, handler)
        self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            subscription.cancel()

        return unsubscribe

    def deliver(self, event: Event) -> None:
        """Queue ``event`` for every local subscriber whose prefix matches."""
        for subscription in list(self._subscriptions):
            subscription.offer(event)


def create_bus(redis_url: str | None) -> EventBus:
    """The backend the settings ask for: Redis pub/sub when a Redis URL is set."""
    if redis_url:
        from notewell.kernel.redis_bus import RedisBus

        return RedisBus(redis_url)
    return LocalBus()
