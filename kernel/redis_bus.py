"""The Redis pub/sub backend of the event bus: every process sees every event.

Each process publishes to one Redis channel and listens on it. An event reaches the
publisher's own subscribers at once, in process; the copy that comes back from Redis
carries the publisher's ``origin`` and is skipped, so every subscriber in every
process sees each event exactly once.

``publish`` never waits for Redis: events go through an outbox that one sender task
drains in order. When Redis goes away the sender keeps its events (up to
``outbox_size``, oldest dropped first) and the listener reconnects with backoff;
both carry on when Redis is back. Pub/sub keeps nothing for a process that is not
subscribed at that moment, so a process misses what others sent while it was cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from notewell.kernel.events import Event, Handler, LocalBus
from notewell.kernel.ids import new_id

log = logging.getLogger("notewell.events")

CHANNEL = "notewell:events"
RETRY_MIN_S = 0.1
RETRY_MAX_S = 5.0
POLL_S = 5.0  # how often an idle listener wakes up to check its connection's health


class _Backoff:
    """Exponential delays between reconnection attempts, reset after a success."""

    def __init__(self) -> None:
        self.delay = RETRY_MIN_S

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, RETRY_MAX_S)

    def reset(self) -> None:
        self.delay = RETRY_MIN_S


class RedisBus:
    """The event bus over Redis pub/sub, shared by server replicas and workers."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        outbox_size: int = 10_000,
        connect_timeout: float = 5.0,
        flush_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.origin = new_id()
        self.connect_timeout = connect_timeout
        self.flush_timeout = flush_timeout
        self._local = LocalBus()
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=outbox_size)
        self._redis: Redis | None = None
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and subscribe; if Redis does not answer in time, keep trying in the
        background (``/ready`` reports it) rather than refusing to start."""
        self._redis = Redis.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
            health_check_interval=int(POLL_S * 3),
        )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._send())]
        try:
            await asyncio.wait_for(self._subscribed.wait(), self.connect_timeout)
        except TimeoutError:
            log.warning("event bus: Redis is not reachable yet; retrying in the background")

    async def stop(self) -> None:
        """Send what the outbox holds (up to ``flush_timeout``), then disconnect."""
        if self._redis is None:
            await self._local.stop()
            return
        try:
            await asyncio.wait_for(self._outbox.join(), self.flush_timeout)
        except TimeoutError:
            log.warning(
                "event bus: %d event(s) not sent to Redis at shutdown", self._outbox.qsize()
            )
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()
        self._redis = None
        await self._local.stop()

    async def ping(self) -> None:
        """Raise unless Redis answers (the ``/ready`` check)."""
        if self._redis is None:
            raise RedisConnectionError("the event bus is not started")
        await self._redis.ping()

    # -- publishing ------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` here at once and queue it for every other process.

        Raises ``TypeError`` (and delivers nothing) if ``event.data`` is not JSON.
        """
        message = json.dumps({"origin": self.origin, "event": event.to_dict()})
        self._local.deliver(event)
        if self._outbox.full():
            self._outbox.get_nowait()
            self._outbox.task_done()
            log.warning("event bus: outbox full while Redis is away; dropped the oldest event")
        self._outbox.put_nowait(message)

    def subscribe(self, handler: Handler, prefix: str = "") -> Callable[[], None]:
        """Call ``handler`` for each event, from any process, whose topic starts with
        ``prefix``. Returns a function that unsubscribes."""
        return self._local.subscribe(handler, prefix)

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self._send_one(message)
            finally:
                self._outbox.task_done()

    async def _send_one(self, message: str) -> None:
        backoff = _Backoff()
        while True:
            try:
                await self._client().publish(self.channel, message)
                return
            except RedisError as exc:
                if backoff.delay == RETRY_MIN_S:
                    log.warning(
                        "event bus: cannot publish to Redis (%s); holding events",
                        type(exc).__name__,
                    )
                await backoff.wait()

    # -- receiving -------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = _Backoff()
        while True:
            try:
                await self._listen_until_lost(backoff)
            except RedisError as exc:
                if backoff.delay == RETRY_MIN_S:
                    log.warning("event bus: lost Redis (%s); reconnecting", type(exc).__name__)
            await backoff.wait()

    async def _listen_until_lost(self, backoff: _Backoff) -> None:
        pubsub: PubSub = self._client().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            if backoff.delay != RETRY_MIN_S:
                log.info("event bus: reconnected to Redis")
            backoff.reset()
            self._subscribed.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
                if message is not None and message.get("type") == "message":
                    self._receive(message["data"])
        finally:
            self._subscribed.clear()
            with contextlib.suppress(RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _receive(self, raw: bytes | str) -> None:
        try:
            envelope: dict[str, Any] = json.loads(raw)
            if envelope["origin"] == self.origin:
                return  # delivered in process when it was published
            event = Event.from_dict(envelope["event"])
        except (ValueError, KeyError, TypeError):
            log.warning("event bus: ignored a malformed message on %s", self.channel)
            return
        self._local.deliver(event)

    def _client(self) -> Redis:
        if self._redis is None:
            raise RedisConnectionError("the event bus is not started")
        return self._redis
