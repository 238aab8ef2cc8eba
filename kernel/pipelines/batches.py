"""Streamed text passed on in batches: for a run's viewers, who need the text as it
grows, not every token as its own event."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable


class TextBatches:
    """Text gathered with :meth:`add` and handed to ``send`` by :meth:`send_due`: the
    first piece at once, then what has gathered, at most every ``interval`` seconds (0:
    every piece). :meth:`flush` sends what is left (call it at the end, failures too)."""

    def __init__(self, send: Callable[[str], Awaitable[None]], interval: float) -> None:
        self.send = send
        self.interval = interval
        self.parts: list[str] = []
        self.sent_at = -math.inf

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)

    async def send_due(self) -> None:
        """Send what has gathered if ``interval`` has passed since the last send."""
        if self.parts and time.monotonic() - self.sent_at >= self.interval:
            await self.flush()

    async def flush(self) -> None:
        if self.parts:
            text, self.parts = "".join(self.parts), []
            self.sent_at = time.monotonic()
            await self.send(text)
