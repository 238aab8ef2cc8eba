"""Per-app state of the auth plugin: settings, signer, caches, invalidation over the bus.

Resolved sessions and keys, and all permission grants, are held in memory so that a
request costs no query once warm. Every change that must take effect at once (sign-out,
revocation, role change, deactivation, grant edits) drops the local entries right away
and tells the other processes through the event bus; each process then has the user's
open sockets authenticated again (``kernel.realtime``), so that a sign-out also ends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from notewell.kernel.actor import Actor
from notewell.kernel.app import current_notewell_app
from notewell.kernel.events import Event
from notewell.plugins.auth.grants import Grants
from notewell.plugins.auth.passwords import Passwords
from notewell.plugins.auth.settings import AuthSettings
from notewell.plugins.auth.tokens import Signer

if TYPE_CHECKING:
    from notewell.kernel.app import Kernel

EXTENSION = "notewell.auth"
INVALIDATE_TOPIC = "auth.invalidate"
GRANTS_TOPIC = "auth.grants_changed"
USER_DELETED_TOPIC = "auth.user_deleted"
_MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class CachedActor:
    """A resolved credential: who it is, and what must still hold to reuse it."""

    actor: Actor
    user_id: str
    secret_hash: str
    expires_at: datetime | None
    cached_until: float


class ActorCache:
    """Resolved sessions and API keys, by credential, for a short time."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, CachedActor] = {}

    def get(self, key: str) -> CachedActor | None:
        entry = self._entries.get(key)
        if entry is None or entry.cached_until < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: str, actor: Actor, user_id: str, secret_hash: str,
            expires_at: datetime | None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= _MAX_CACHED:
            self._entries.clear()
        self._entries[key] = CachedActor(
            actor, user_id, secret_hash, expires_at, time.monotonic() + self.ttl
        )

    def drop(self, *, key: str | None = None, user_id: str | None = None) -> None:
        if key is not None:
            self._entries.pop(key, None)
        if user_id is not None:
            for cached_key in [k for k, e in self._entries.items() if e.user_id == user_id]:
                self._entries.pop(cached_key, None)


class AuthState:
    """Everything the auth plugin keeps for one app (or one CLI command)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings: AuthSettings = kernel.settings.plugin("auth")
        self.db = kernel.db
        self.bus = kernel.bus
        self.signer = Signer(kernel.settings.ensure_secret_key())
        self.passwords = Passwords(self.settings)
        self.actors = ActorCache(self.settings.actor_cache_seconds)
        self.grants = Grants()
        self.key_touches: dict[str, float] = {}
        self.has_users = False
        self.oidc_clients: dict[str, Any] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Load the grants and listen for invalidations from other processes."""
        await self.grants.load(self.db)
        self._unsubscribe = [
            self.bus.subscribe(self._on_invalidate, INVALIDATE_TOPIC),
            self.bus.subscribe(self._on_grants_changed, GRANTS_TOPIC),
        ]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if _last_started and _last_started[0] is self:
            _last_started.clear()

    async def invalidate(self, *, user_id: str | None = None, key: str | None = None) -> None:
        """Forget cached credentials here at once, and in other processes via the bus."""
        self.actors.drop(key=key, user_id=user_id)
        await self.bus.publish(Event(INVALIDATE_TOPIC, {"user_id": user_id, "key": key}))

    async def grants_changed(self) -> None:
        """Reload grants here at once, and in other processes via the bus."""
        await self.grants.load(self.db)
        await self.bus.publish(Event(GRANTS_TOPIC, {}))

    async def _on_invalidate(self, event: Event) -> None:
        """In every process: forget the cached credentials, then have the user's open
        sockets authenticated again (signed out, disabled: disconnected)."""
        user_id = event.data.get("user_id")
        self.actors.drop(key=event.data.get("key"), user_id=user_id)
        if user_id and self.kernel.realtime is not None:
            await self.kernel.realtime.recheck(user_id)

    async def _on_grants_changed(self, event: Event) -> None:
        await self.grants.load(self.db)


_last_started: list[AuthState] = []


def install(app: Any) -> AuthState:
    """Create the app's state (called from ``on_startup``)."""
    state = AuthState(app.kernel)
    app.extensions[EXTENSION] = state
    _last_started[:] = [state]
    return state


def current_state() -> AuthState | None:
    """The state of the app handling this request.

    Outside an app context (a pipeline step in a worker) the most recently started
    state answers; see the report on ``current_kernel`` outside requests.
    """
    app = current_notewell_app()
    if app is not None:
        state: AuthState | None = app.extensions.get(EXTENSION)
        return state
    return _last_started[0] if _last_started else None
