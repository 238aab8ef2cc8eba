"""Ids sort in the order they were made, even many in one millisecond."""

from __future__ import annotations

from notewell.kernel.ids import new_id


def test_ids_made_in_a_burst_sort_in_the_order_they_were_made():
    ids = [new_id() for _ in range(5000)]  # thousands fall in the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
