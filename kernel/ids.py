"""Identifiers: time-ordered, so that primary keys double as stable cursors."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]  # 10 bits → 2 characters
_SHIFTS = range(120, -1, -10)  # 130 bits (26 characters), most significant first
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A 26-character, lexicographically time-ordered id (ULID layout, lowercase base32).

    Monotonic within a process, as the ULID spec's monotonic variant: an id made in the
    same millisecond as the previous one (or while the clock stepped back) is the
    previous one plus a random increment, so ids made one after another always sort in
    the order they were made, and still cannot be guessed from each other.
    """
    global _last
    random = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000) << _RANDOM_BITS | random
    with _lock:
        if value >> _RANDOM_BITS <= _last >> _RANDOM_BITS:
            value = _last + 1 + (random >> 48)  # up to 2**32 further on
        _last = value
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
