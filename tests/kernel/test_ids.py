"""Ids sort in the order they were made, even many in one millisecond."""

from __future__ import annotations

import os

from notewell.kernel.ids import new_id


def test_ids_made_in_a_burst_sort_in_the_order_they_were_made():
    ids = [new_id() for _ in range(5000)]  # thousands fall in the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)


def test_a_forked_child_draws_its_own_randomness():
    new_id()  # the parent has random bytes put by
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child, parent = os.read(read, 64).decode(), new_id()
    os.close(read)
    os.close(write)
    assert child[10:] != parent[10:]  # the random parts (the first ten are the time)
