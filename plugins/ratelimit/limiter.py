"""Moving-window counting in Redis, falling back to memory while Redis is unreachable.

When a Redis call fails the limiter counts in process memory and tries Redis again
every ``retry_seconds``; the first call that succeeds switches back. Counts made in
memory meanwhile stay in memory (a brief outage lets a client through at most one
extra window's worth per process, which beats refusing everyone or no one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
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
        self._memory_storage = MemoryStorage()
        self._memory = MovingWindowRateLimiter(self._memory_storage)
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
        return await self._hit(self._memory, items, route_class, identity)

    async def _hit(self, limiter: MovingWindowRateLimiter, items: list[RateLimitItem],
                   route_class: str, identity: str) -> Decision:
        tightest: Decision | None = None
        for item in items:
            allowed = await limiter.hit(item, route_class, identity)
            stats = await limiter.get_window_stats(item, route_class, identity)
            decision = Decision(
                allowed=allowed, limit=item.amount, remaining=max(0, stats.remaining),
                reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
            )
            if tightest is None or (tightest.allowed and not allowed) or (
                allowed == tightest.allowed and decision.remaining < tightest.remaining
            ):
                tightest = decision
        assert tightest is not None
        return tightest

    async def close(self) -> None:
        """Release the Redis connections and the memory store's expiry task."""
        if self._pool is not None:
            await self._pool.disconnect()
        timer = getattr(self._memory_storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
