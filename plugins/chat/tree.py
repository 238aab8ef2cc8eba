"""Pure functions over a chat's message tree, given as ``(id, parent_id)`` pairs.

Ids are time-ordered, so among siblings the greatest id is the newest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from notewell.kernel.ids import new_id

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def successive_ids(count: int) -> list[str]:
    """``count`` new ids in increasing order even within one millisecond (where
    :func:`new_id` alone orders at random): a new id, then that id plus one, two…"""
    first = 0
    for char in new_id():
        first = first * 32 + _ALPHABET.index(char)
    ids = []
    for value in range(first, first + count):
        chars = []
        for _ in range(26):
            value, index = divmod(value, 32)
            chars.append(_ALPHABET[index])
        ids.append("".join(reversed(chars)))
    return ids


@dataclass
class Tree:
    """Parents and children of every message of one chat."""

    parents: dict[str, str | None] = field(default_factory=dict)
    children: dict[str | None, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str | None]]) -> Tree:
        """Build from ``(id, parent_id)`` pairs in any order; children end up sorted."""
        tree = cls()
        for message_id, parent_id in pairs:
            tree.parents[message_id] = parent_id
            tree.children.setdefault(parent_id, []).append(message_id)
        for siblings in tree.children.values():
            siblings.sort()
        return tree

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.parents

    def siblings(self, message_id: str) -> list[str]:
        """The message and its siblings, oldest first."""
        return self.children.get(self.parents[message_id], [])

    def newest_leaf(self, message_id: str) -> str:
        """The leaf reached from ``message_id`` by always taking the newest child."""
        while self.children.get(message_id):
            message_id = self.children[message_id][-1]
        return message_id

    def path_to(self, message_id: str) -> list[str]:
        """The ids from the root down to ``message_id``."""
        path: list[str] = []
        current: str | None = message_id
        while current is not None:
            path.append(current)
            current = self.parents.get(current)
        path.reverse()
        return path

    def subtree(self, message_id: str) -> set[str]:
        """``message_id`` and all its descendants."""
        found: set[str] = set()
        stack = [message_id]
        while stack:
            current = stack.pop()
            found.add(current)
            stack.extend(self.children.get(current, ()))
        return found

    def latest_leaf(self) -> str | None:
        """The newest leaf of the whole tree (the last root's newest branch)."""
        roots = self.children.get(None)
        return self.newest_leaf(roots[-1]) if roots else None
