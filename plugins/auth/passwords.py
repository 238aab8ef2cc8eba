"""Password hashing with Argon2id, off the event loop, with a dummy hash for timing parity."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from notewell.plugins.auth.settings import AuthSettings


class Passwords:
    """Hashes and checks passwords with the configured Argon2id cost."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_time_cost,
            memory_cost=settings.password_memory_cost,
            parallelism=settings.password_parallelism,
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password`` (computed in a worker thread)."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``.

        With no stored hash (unknown e-mail, account without a password) a dummy hash is
        checked instead, so that the answer takes as long either way.
        """
        if stored is None:
            await asyncio.to_thread(self._check, await self._dummy_hash(), password)
            return False
        return await asyncio.to_thread(self._check, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        return self._dummy
