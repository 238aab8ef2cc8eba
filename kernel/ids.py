"""Identifiers: time-ordered, so that primary keys double as stable cursors."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 26-character, lexicographically time-ordered id (ULID layout, lowercase base32)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(alphabet[index])
    return "".join(reversed(chars))
