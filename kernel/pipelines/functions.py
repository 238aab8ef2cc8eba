"""The pure functions expressions may call, and the value rules they share.

Values are JSON values: ``null``, booleans, numbers, strings, arrays and objects.
Every function is total on the types it documents and raises ``ValueError`` (turned
into an ``ExpressionError`` by the evaluator) with a message a person understands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 1_000_000
"""The longest string an expression may produce (characters)."""

MAX_ITEMS = 100_000
"""The longest array an expression may produce."""


def type_name(value: Any) -> str:
    """The JSON type name of ``value`` (``integer`` and ``number`` kept apart)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def truthy(value: Any) -> bool:
    """``null``, ``false``, ``0``, ``""``, ``[]`` and ``{}`` are false; the rest true."""
    return bool(value)


def equal(left: Any, right: Any) -> bool:
    """JSON equality: ``true`` is not ``1``; ``1`` equals ``1.0``."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def to_text(value: Any) -> str:
    """How a value reads inside a longer string: null is empty, booleans are
    ``true``/``false``, arrays and objects are JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return to_json(value)
    return str(value)


def to_json(value: Any) -> str:
    """Compact-ish JSON (non-ASCII kept), capped at ``MAX_TEXT`` characters."""
    return check_text(json.dumps(value, ensure_ascii=False, default=str))


def check_text(text: str) -> str:
    """``text``, or ``ValueError`` when it is longer than ``MAX_TEXT``."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"the result is longer than {MAX_TEXT} characters")
    return text


def _string(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"`{name}` wants a string, got {type_name(value)}")
    return value


def _length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | Mapping | list | tuple):
        return len(value)
    raise ValueError(f"`length` wants a string, array or object, got {type_name(value)}")


def _join(items: Any, separator: Any = ",") -> str:
    if isinstance(items, str):
        return items
    if items is None:
        return ""
    if not isinstance(items, list | tuple):
        raise ValueError(f"`join` wants an array, got {type_name(items)}")
    return check_text(to_text(separator).join(to_text(item) for item in items))


def _contains(haystack: Any, needle: Any) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, str):
        return to_text(needle) in haystack
    if isinstance(haystack, Mapping):
        return needle in haystack
    if isinstance(haystack, list | tuple):
        return any(equal(item, needle) for item in haystack)
    raise ValueError(f"`contains` wants a string, array or object, got {type_name(haystack)}")


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d*)\}|[{}]")


def _format(template: Any, *values: Any) -> str:
    """``{}`` takes the next value, ``{0}`` a numbered one, ``{{``/``}}`` are braces."""
    text = _string("format", template)
    counter = iter(range(len(values) + 1))

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            raise ValueError("`format` placeholders are `{}` or `{0}`; write `{{` for a brace")
        index = int(match.group(1)) if match.group(1) else next(counter)
        if index >= len(values):
            raise ValueError(f"`format` has no value for placeholder {{{index}}}")
        return to_text(values[index])

    return check_text(_PLACEHOLDER.sub(replace, text))


def _keys(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ValueError(f"`keys` wants an object, got {type_name(value)}")
    return list(value)


def _end(name: str, position: int) -> Callable[[Any], Any]:
    def pick(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str | list | tuple):
            raise ValueError(f"`{name}` wants an array or string, got {type_name(value)}")
        return value[position] if value else None

    return pick


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


@dataclass(frozen=True)
class Function:
    """A function expressions may call: arity, implementation and result type
    (a JSON type name; ``None`` when it depends on the arguments)."""

    name: str
    signature: str
    min_args: int
    max_args: int
    call: Callable[..., Any]
    returns: str | None

    @property
    def arity(self) -> str:
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args > 100:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


_MANY = 1000

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "default",
            "(value, fallback)",
            2,
            2,
            lambda value, fallback: fallback if value is None else value,
            None,
        ),
        Function("coalesce", "(value, …)", 1, _MANY, _coalesce, None),
        Function("length", "(value)", 1, 1, _length, "integer"),
        Function("join", "(array, separator=',')", 1, 2, _join, "string"),
        Function("lower", "(text)", 1, 1, lambda v: _string("lower", v).lower(), "string"),
        Function("upper", "(text)", 1, 1, lambda v: _string("upper", v).upper(), "string"),
        Function("trim", "(text)", 1, 1, lambda v: _string("trim", v).strip(), "string"),
        Function("contains", "(haystack, needle)", 2, 2, _contains, "boolean"),
        Function("json", "(value)", 1, 1, to_json, "string"),
        Function("format", "(template, value, …)", 1, _MANY, _format, "string"),
        Function("keys", "(object)", 1, 1, _keys, "array"),
        Function("first", "(array)", 1, 1, _end("first", 0), None),
        Function("last", "(array)", 1, 1, _end("last", -1), None),
    )
}
