"""Identifiers: time-ordered, so that primary keys double as stable cursors."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]  # 10 bits → 2 characters
_SHIFTS = range(120, -1, -10)  # 130 bits (26 characters), most significant first
_RANDOM_BITS = 80
_POOL_BYTES = 4096
_lock = threading.Lock()
_last = 0
_pool = b""
_taken = 0


def new_id() -> str:
    """A 26-character, lexicographically time-ordered id (ULID layout, lowercase base32).

    Monotonic within a process, as the ULID spec's monotonic variant: an id made in the
    same millisecond as the previous one (or while the clock stepped back) is the
    previous one plus a random increment, so ids made one after another always sort in
    the order they were made, and still cannot be guessed from each other.
    """
    global _last
    with _lock:
        random = int.from_bytes(_random_bytes(10), "big")
        value = (time.time_ns() // 1_000_000) << _RANDOM_BITS | random
        if value >> _RANDOM_BITS <= _last >> _RANDOM_BITS:
            value = _last + 1 + (random >> 48)  # up to 2**32 further on
        _last = value
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def _random_bytes(count: int) -> bytes:
    """``count`` bytes from the operating system's secure source, drawn 4 KiB at a time
    (call with ``_lock`` held): each ``os.urandom`` call lets go of the GIL, and a busy
    server's event loop then waited for another thread to give it back, up to the
    interpreter's 5 ms switch interval, for every id. A forked child draws its own
    (``_forget_pool``): two processes must never share random bytes."""
    global _pool, _taken
    if _taken + count > len(_pool):
        _pool, _taken = os.urandom(_POOL_BYTES), 0
    start, _taken = _taken, _taken + count
    return _pool[start:_taken]


def _forget_pool() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_pool)
