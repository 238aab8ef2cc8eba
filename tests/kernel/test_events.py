"""The event bus: the in-process backend, and the Redis backend against a real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from notewell.kernel.events import Event, LocalBus, create_bus
from notewell.kernel.redis_bus import RedisBus
from notewell.testing import service_unavailable
from notewell.testing.services import RedisServer, ServiceUnavailable

WAIT_S = 10.0
QUIET_S = 0.5  # how long to keep listening to be sure nothing more arrives


class Inbox:
    """A subscriber that records the events it is handed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    @property
    def topics(self) -> list[str]:
        return [event.topic for event in self.events]

    async def wait_for(self, predicate: Callable[[list[Event]], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.events)), WAIT_S)

    async def wait_for_count(self, count: int) -> None:
        await self.wait_for(lambda events: len(events) >= count)


async def until(condition: Callable[[], Any], timeout: float = WAIT_S) -> None:
    """Wait until ``condition()`` is true (polling), or fail."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


# -- Event --------------------------------------------------------------------------


def test_event_survives_a_round_trip_through_a_dict():
    event = Event("chat.message_created", {"text": "hi"}, user_id="u1")
    assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event


# -- LocalBus -----------------------------------------------------------------------


@pytest.fixture
async def bus() -> AsyncIterator[LocalBus]:
    bus = LocalBus()
    await bus.start()
    yield bus
    await bus.stop()


def test_no_redis_url_means_the_in_process_bus():
    assert isinstance(create_bus(None), LocalBus)
    assert isinstance(create_bus("redis://127.0.0.1:1/0"), RedisBus)


async def test_each_subscriber_sees_events_in_publish_order(bus):
    first, second = Inbox(), Inbox()
    bus.subscribe(first)
    bus.subscribe(second)
    for number in range(50):
        await bus.publish(Event(f"probe.{number}"))
    await first.wait_for_count(50)
    await second.wait_for_count(50)
    expected = [f"probe.{number}" for number in range(50)]
    assert first.topics == expected
    assert second.topics == expected


async def test_failing_subscriber_does_not_affect_the_others(bus):
    calls: list[str] = []

    async def failing(event: Event) -> None:
        calls.append(event.topic)
        raise RuntimeError("subscriber bug")

    healthy = Inbox()
    bus.subscribe(failing)
    bus.subscribe(healthy)
    await bus.publish(Event("probe.one"))
    await bus.publish(Event("probe.two"))
    await healthy.wait_for_count(2)
    await until(lambda: len(calls) == 2)
    assert healthy.topics == ["probe.one", "probe.two"]
    assert calls == ["probe.one", "probe.two"]  # it keeps getting later events too


async def test_slow_subscriber_delays_neither_publisher_nor_others(bus):
    release = asyncio.Event()

    async def stuck(event: Event) -> None:
        await release.wait()

    fast = Inbox()
    bus.subscribe(stuck)
    bus.subscribe(fast)
    await asyncio.wait_for(bus.publish(Event("probe.one")), 1)
    await fast.wait_for_count(1)
    release.set()


async def test_prefix_selects_the_topics_a_subscriber_sees(bus):
    runs, everything = Inbox(), Inbox()
    bus.subscribe(runs, prefix="run.")
    bus.subscribe(everything)
    for topic in ("run.started", "chat.message_created", "run.finished", "runner.other"):
        await bus.publish(Event(topic))
    await everything.wait_for_count(4)
    await asyncio.sleep(0.05)
    assert runs.topics == ["run.started", "run.finished"]


async def test_unsubscribed_handler_gets_no_more_events(bus):
    gone, staying = Inbox(), Inbox()
    unsubscribe = bus.subscribe(gone)
    bus.subscribe(staying)
    await bus.publish(Event("probe.before"))
    await gone.wait_for_count(1)
    unsubscribe()
    unsubscribe()  # a second call is harmless
    await bus.publish(Event("probe.after"))
    await staying.wait_for_count(2)
    await asyncio.sleep(0.05)
    assert gone.topics == ["probe.before"]


async def test_stop_lets_queued_events_reach_their_subscriber():
    bus = LocalBus()
    seen: list[str] = []

    async def slow(event: Event) -> None:
        await asyncio.sleep(0.01)
        seen.append(event.topic)

    bus.subscribe(slow)
    for number in range(5):
        await bus.publish(Event(f"probe.{number}"))
    await bus.stop()
    assert seen == [f"probe.{number}" for number in range(5)]


# -- RedisBus -----------------------------------------------------------------------


def redis_bus(url: str, channel: str, **options: Any) -> RedisBus:
    return RedisBus(url, channel=channel, connect_timeout=2.0, flush_timeout=2.0, **options)


@pytest.fixture
def channel() -> str:
    return f"test-events:{uuid.uuid4().hex}"


@pytest.fixture
async def two_buses(redis_url: str, channel: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two buses on one Redis channel, as two server processes would have."""
    first, second = redis_bus(redis_url, channel), redis_bus(redis_url, channel)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


@pytest.mark.integration
async def test_redis_event_reaches_every_process_exactly_once(two_buses):
    publisher, other = two_buses
    here, there = Inbox(), Inbox()
    publisher.subscribe(here)
    other.subscribe(there)
    event = Event("probe.hello", {"n": 1}, user_id="alice")
    await publisher.publish(event)
    await here.wait_for_count(1)
    await there.wait_for_count(1)
    await asyncio.sleep(QUIET_S)
    assert here.events == [event]
    assert there.events == [event]


@pytest.mark.integration
async def test_redis_bus_keeps_order_and_prefixes_across_processes(two_buses):
    publisher, other = two_buses
    runs = Inbox()
    other.subscribe(runs, prefix="run.")
    for number in range(20):
        await publisher.publish(Event(f"run.{number}"))
        await publisher.publish(Event(f"chat.{number}"))
    await runs.wait_for_count(20)
    assert runs.topics == [f"run.{number}" for number in range(20)]


@pytest.mark.integration
async def test_redis_bus_ignores_malformed_messages(two_buses, redis_url, channel):
    _, other = two_buses
    inbox = Inbox()
    other.subscribe(inbox)
    raw = Redis.from_url(redis_url)
    try:
        await raw.publish(channel, b"not json")
        await raw.publish(channel, json.dumps({"origin": "x", "event": {"no": "topic"}}))
        await raw.publish(channel, json.dumps({"origin": "x", "event": {"topic": "probe.ok"}}))
    finally:
        await raw.aclose()
    await inbox.wait_for_count(1)
    await asyncio.sleep(QUIET_S)
    assert inbox.topics == ["probe.ok"]


@pytest.mark.integration
async def test_unserialisable_event_is_refused_and_delivered_nowhere(two_buses):
    publisher, _ = two_buses
    inbox = Inbox()
    publisher.subscribe(inbox)
    with pytest.raises(TypeError):
        await publisher.publish(Event("probe.bad", {"when": object()}))
    await asyncio.sleep(0.05)
    assert inbox.events == []


@pytest.mark.integration
async def test_stop_sends_events_still_in_the_outbox(redis_url, channel):
    publisher, other = redis_bus(redis_url, channel), redis_bus(redis_url, channel)
    await publisher.start()
    await other.start()
    inbox = Inbox()
    other.subscribe(inbox)
    try:
        for number in range(100):
            await publisher.publish(Event(f"probe.{number}"))
        await publisher.stop()
        await inbox.wait_for_count(100)
    finally:
        await other.stop()


@pytest.mark.integration
async def test_ping_answers_while_redis_is_up(two_buses):
    publisher, _ = two_buses
    await publisher.ping()


@pytest.fixture
def own_redis() -> Any:
    """A Redis this test may stop and start (the session's is shared)."""
    server = RedisServer()
    try:
        server.start()
    except ServiceUnavailable as exc:
        server.close()
        service_unavailable("Redis", exc)
    yield server
    server.close()


@pytest.mark.integration
async def test_redis_bus_reconnects_when_redis_restarts(own_redis, channel):
    publisher, other = redis_bus(own_redis.url, channel), redis_bus(own_redis.url, channel)
    await publisher.start()
    await other.start()
    here, there = Inbox(), Inbox()
    publisher.subscribe(here)
    other.subscribe(there)
    try:
        await asyncio.to_thread(own_redis.stop)
        with pytest.raises(RedisError):
            await publisher.ping()
        await publisher.publish(Event("probe.during_outage"))
        await here.wait_for_count(1)  # this process still sees its own events

        await asyncio.to_thread(own_redis.start)
        await _publish_until_received(publisher, there)
        await publisher.ping()
        await other.ping()
    finally:
        await publisher.stop()
        await other.stop()


async def _publish_until_received(publisher: RedisBus, inbox: Inbox) -> None:
    """Pub/sub keeps nothing for a listener that is still reconnecting, so probe until the
    other process is subscribed again and an event gets through."""
    async with asyncio.timeout(30):
        while not any(topic == "probe.after_restart" for topic in inbox.topics):
            await publisher.publish(Event("probe.after_restart"))
            await asyncio.sleep(0.2)
