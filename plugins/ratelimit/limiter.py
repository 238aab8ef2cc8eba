"""Moving-window counting in Redis, falling back to memory while Redis is unreachable.

In memory the window is kept per (class, limit, identity) as at most ``SLOTS`` time
slots with their counts, in a deque: each hit drops the slots that left the window and
adds to the newest, so its work is constant, it awaits nothing (no lock, no thread, no
task) and its memory is bounded whatever the rate. A slot leaves the window when its
last hit does, so no window ever holds more than the limit.

When a Redis call fails the limiter counts in process memory and tries Redis again
every ``retry_seconds``; the first call that succeeds switches back. Counts made in
memory meanwhile stay in memory (a brief outage lets a client through at most one
extra window's worth per process, which beats refusing everyone or no one).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

log = logging.getLogger("notewell.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit: allowed or not, and the numbers for the headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            values["Retry-After"] = str(max(1, self.reset_seconds))
        return values


class Limiter:
    """Counts hits per (class, identity) against each class's limits."""

    def __init__(self, classes: dict[str, str], redis_url: str | None,
                 retry_seconds: float = 5.0) -> None:
        self.items: dict[str, list[RateLimitItem]] = {
            name: parse_many(text) for name, text in classes.items()
        }
        self.retry_seconds = retry_seconds
        self._memory = MemoryWindows()
        self._pool = None
        self._redis: MovingWindowRateLimiter | None = None
        if redis_url:
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(
                redis_url, socket_connect_timeout=1, socket_timeout=1
            )
            storage = RedisStorage(f"async+{redis_url}", wrap_exceptions=True,
                                   implementation="redispy", connection_pool=self._pool)
            self._redis = MovingWindowRateLimiter(storage)
        self._retry_at = 0.0
        self.backend = "redis" if redis_url else "memory"

    async def hit(self, route_class: str, identity: str) -> Decision:
        """Count one request of ``identity`` on a route of ``route_class``."""
        items = self.items.get(route_class) or self.items["default"]
        if self._redis is not None and time.monotonic() >= self._retry_at:
            try:
                decision = await self._hit(self._redis, items, route_class, identity)
            except StorageError as exc:
                self._retry_at = time.monotonic() + self.retry_seconds
                if self.backend == "redis":
                    log.warning("Redis unreachable (%s); counting in memory", type(exc).__name__)
                self.backend = "memory"
            else:
                if self.backend != "redis":
                    log.info("Redis reachable again; counting there")
                self.backend = "redis"
                return decision
        if len(items) == 1:  # the common case, without tightest()'s generator and key
            item = items[0]
            return self._memory.hit(item.amount, item.get_expiry(), route_class, identity)
        return tightest(
            self._memory.hit(item.amount, item.get_expiry(), route_class, identity)
            for item in items
        )

    async def _hit(self, limiter: MovingWindowRateLimiter, items: list[RateLimitItem],
                   route_class: str, identity: str) -> Decision:
        decisions = []
        for item in items:
            allowed = await limiter.hit(item, route_class, identity)
            stats = await limiter.get_window_stats(item, route_class, identity)
            decisions.append(Decision(
                allowed=allowed, limit=item.amount, remaining=max(0, stats.remaining),
                reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
            ))
        return tightest(decisions)

    async def close(self) -> None:
        """Release the Redis connections."""
        if self._pool is not None:
            await self._pool.disconnect()


def tightest(decisions: Iterable[Decision]) -> Decision:
    """The decision that binds: a refusal over an allowance, then the fewest remaining."""
    return min(decisions, key=lambda decision: (decision.allowed, decision.remaining))


SLOTS = 100
"""Time slots a window is kept in (so hits 1/SLOTS of a window apart share a slot)."""

SWEEP_SECONDS = 60.0
"""How often the windows of identities that stopped sending are forgotten."""


class _Window:
    __slots__ = ("period", "slots", "total")

    def __init__(self, period: float) -> None:
        self.period = period
        self.slots: deque[list[float]] = deque()  # [slot number, last hit's time, count]
        self.total = 0


class MemoryWindows:
    """Moving windows in process memory (see the module's docstring)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, int, float], _Window] = {}
        self._sweep_at = time.monotonic() + SWEEP_SECONDS

    def hit(self, amount: int, period: float, route_class: str, identity: str) -> Decision:
        """Count one hit against ``amount`` per ``period`` seconds, unless it is over."""
        now = time.monotonic()
        if now >= self._sweep_at:
            self._sweep(now)
        key = (route_class, identity, amount, period)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(period)
        slots = window.slots
        while slots and slots[0][1] + period <= now:
            window.total -= int(slots.popleft()[2])
        allowed = window.total < amount
        if allowed:
            number = now * SLOTS // period
            if slots and slots[-1][0] == number:
                slots[-1][1] = now
                slots[-1][2] += 1
            else:
                slots.append([number, now, 1])
            window.total += 1
        reset = slots[0][1] + period - now if slots else 0.0
        return Decision(
            allowed=allowed, limit=amount, remaining=max(0, amount - window.total),
            reset_seconds=max(0, math.ceil(reset)),
        )

    def _sweep(self, now: float) -> None:
        self._sweep_at = now + SWEEP_SECONDS
        stale = [
            key for key, window in self._windows.items()
            if not window.slots or window.slots[-1][1] + window.period <= now
        ]
        for key in stale:
            del self._windows[key]
