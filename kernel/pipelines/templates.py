"""Strings with ``${{ … }}`` in them: splitting them into text and parsed expressions."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from notewell.kernel.pipelines.expressions import (
    CLOSE,
    OPEN,
    Expression,
    ExpressionError,
    parse_expression,
)


@functools.lru_cache(maxsize=4096)
def parse_template(template: str) -> tuple[str | Expression, ...]:
    """Split a string into literal text and ``${{ … }}`` expressions, in order.

    Raises ``ExpressionError`` for the first expression that does not parse.
    """
    return tuple(
        piece if isinstance(piece, str) else _parse_piece(*piece) for piece in _pieces(template)
    )


def expressions_in(template: str) -> list[Expression | ExpressionError]:
    """Each ``${{ … }}`` of a string, parsed, or the error that parsing it raised;
    one bad expression does not hide the others (used by validation)."""
    found: list[Expression | ExpressionError] = []
    try:
        for piece in _pieces(template):
            if isinstance(piece, str):
                continue
            try:
                found.append(_parse_piece(*piece))
            except ExpressionError as exc:
                found.append(exc)
    except ExpressionError as exc:  # a `${{` that is never closed ends the string
        found.append(exc)
    return found


def _pieces(template: str) -> Iterator[str | tuple[int, str]]:
    """Literal text, and ``(offset, inner text)`` for each ``${{ … }}``."""
    position = 0
    while (start := template.find(OPEN, position)) >= 0:
        if start > position:
            yield template[position:start]
        end = _closing(template, start + len(OPEN))
        yield start, template[start + len(OPEN) : end].strip()
        position = end + len(CLOSE)
    if position < len(template):
        yield template[position:]


def _parse_piece(offset: int, text: str) -> Expression:
    try:
        return Expression(text, parse_expression(text), offset)
    except ExpressionError as exc:
        exc.expression = exc.expression or text
        raise


def _closing(template: str, position: int) -> int:
    """Index of the ``}}`` that ends the expression starting at ``position``."""
    quote = ""
    index = position
    while index < len(template):
        char = template[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif template.startswith(CLOSE, index):
            return index
        index += 1
    raise ExpressionError(
        "`${{` is never closed",
        hint="end the expression with `}}`",
        expression=template[position - len(OPEN) :][:80],
    )
