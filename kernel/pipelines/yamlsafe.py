"""Safe, bounded YAML: ``yaml.safe_load`` semantics with limits checked before expansion.

The node graph is composed first (aliases stay shared, nothing is expanded), its size,
depth and alias use are checked, and only then are Python values built. A
"billion laughs" file is therefore rejected after composing a few hundred nodes.

Values are JSON-shaped: mapping keys are always strings, timestamps stay strings,
and only ``true``/``false`` are booleans (YAML 1.2; ``yes``, ``no``, ``on`` and
``off`` are strings), so that ``country: NO`` means what it says.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000


class LimitExceeded(Exception):
    """A YAML document broke a limit; ``code`` is the issue code to report."""

    def __init__(self, code: str, message: str, mark: yaml.Mark | None, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.mark = mark
        self.hint = hint


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class BoundedLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that counts aliases and nesting while composing."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise LimitExceeded(
                    "alias_limit",
                    f"more than {MAX_ALIASES} aliases (*name)",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                    "write the values out, or use fewer anchors",
                )
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise LimitExceeded(
                    "too_deep",
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                    "flatten the structure",
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(
                    None, None, "a mapping key must be a plain string", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


for _first in "tTfF":
    BoundedLoader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", _BOOL)
    )


def _unsupported(loader: BoundedLoader, node: Node) -> Any:
    raise ConstructorError(
        None, None, f"the YAML tag {node.tag} is not supported in pipelines", node.start_mark
    )


BoundedLoader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", BoundedLoader.construct_yaml_str
)
for _tag in ("binary", "set", "omap", "pairs"):
    BoundedLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _unsupported)


def compose(text: str) -> Node | None:
    """The document's node graph, with the nesting and alias-count limits enforced.

    Raises ``yaml.YAMLError`` for malformed YAML and ``LimitExceeded`` for limits.
    """
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        check_expansion(node)
    return node


def construct(node: Node) -> Any:
    """Python values for a composed (and checked) node graph."""
    loader = BoundedLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


@dataclass
class _Frame:
    node: Node
    children: list[Node]
    next_child: int = 0


def check_expansion(root: Node) -> None:
    """Reject graphs whose alias expansion is too big, too deep or recursive.

    Computes each distinct node's expanded size and height once (iteratively, so a
    long alias chain cannot exhaust the Python stack).
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    visiting: set[int] = set()
    stack = [_Frame(root, _children(root))]
    visiting.add(id(root))
    while stack:
        frame = stack[-1]
        if frame.next_child < len(frame.children):
            child = frame.children[frame.next_child]
            frame.next_child += 1
            if id(child) in visiting:
                raise LimitExceeded(
                    "alias_limit",
                    "an alias refers to itself",
                    child.start_mark,
                    "remove the recursive alias",
                )
            if id(child) not in size:
                visiting.add(id(child))
                stack.append(_Frame(child, _children(child)))
            continue
        stack.pop()
        visiting.discard(id(frame.node))
        key = id(frame.node)
        size[key] = 1 + sum(size[id(c)] for c in frame.children)
        height[key] = 1 + max((height[id(c)] for c in frame.children), default=0)
        _check_totals(frame.node, size[key], height[key])


def _check_totals(node: Node, size: int, height: int) -> None:
    if size > MAX_EXPANDED_NODES:
        raise LimitExceeded(
            "alias_limit",
            f"aliases expand to more than {MAX_EXPANDED_NODES} values",
            node.start_mark,
            "write the values out, or use fewer anchors",
        )
    if height > MAX_DEPTH:
        raise LimitExceeded(
            "too_deep",
            f"nested more than {MAX_DEPTH} levels deep (counting aliases)",
            node.start_mark,
            "flatten the structure",
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
