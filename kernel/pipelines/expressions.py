"""The ``${{ }}`` expression language: tokenizer, syntax tree and parser.

A small hand-written recursive-descent parser; nothing is ever passed to ``eval``.
Grammar (lowest precedence first)::

    expr       := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := postfix (("==" | "!=" | "<" | "<=" | ">" | ">=") postfix)?
    postfix    := primary ("." NAME | "[" expr "]")*
    primary    := NUMBER | STRING | "true" | "false" | "null" | "[" [expr ("," expr)*] "]"
                | "(" expr ")" | NAME "(" [expr ("," expr)*] ")" | "inputs" | "steps"
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from notewell.kernel.pipelines.functions import FUNCTIONS
from notewell.kernel.pipelines.issues import did_you_mean

MAX_EXPRESSION_LENGTH = 2000
MAX_NESTING = 32
ROOTS = ("inputs", "steps")
OPEN, CLOSE = "${{", "}}"


class ExpressionError(Exception):
    """An expression that cannot be parsed or evaluated; ``message`` says why and
    ``code`` is ``invalid_expression`` or ``unknown_function``."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_expression",
        hint: str = "",
        expression: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.expression = expression

    def __str__(self) -> str:
        where = f" in `{self.expression}`" if self.expression else ""
        return f"{self.message}{where}"


# -- syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """Base of syntax-tree nodes; ``start``/``end`` index the expression's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Root(Node):
    name: str


@dataclass(frozen=True)
class Attr(Node):
    target: Node
    name: str


@dataclass(frozen=True)
class Index(Node):
    target: Node
    index: Node


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Expression:
    """One parsed ``${{ … }}``: its source text (inside the braces) and its tree;
    ``offset`` is where the ``${{`` starts in the template string."""

    text: str
    tree: Node
    offset: int = 0


# -- tokens ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.|-)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"unexpected character {text[position]!r} at position {position + 1}",
                hint="quote strings with '…'; combine conditions with and/or/not",
                expression=text,
            )
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    found.append(_Token("end", "", len(text), len(text)))
    return found


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


# -- parser ------------------------------------------------------------------------------

_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_KEYWORDS = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0
        self.depth = 0

    # helpers
    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def accept(self, text: str) -> _Token | None:
        token = self.peek()
        if token.text == text and token.kind in ("op", "name"):
            self.position += 1
            return token
        return None

    def expect(self, text: str) -> _Token:
        token = self.accept(text)
        if token is None:
            self.fail(f"expected `{text}`", self.peek())
        return token  # type: ignore[return-value]

    def fail(self, message: str, token: _Token, hint: str = "") -> None:
        got = f"`{token.text}`" if token.kind != "end" else "the end"
        raise ExpressionError(
            f"{message} at position {token.start + 1}, found {got}",
            hint=hint,
            expression=self.text,
        )

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(
                f"nested more than {MAX_NESTING} levels deep", expression=self.text
            )

    # grammar
    def parse(self) -> Node:
        if not self.text.strip():
            raise ExpressionError("empty expression", hint="write e.g. `${{ inputs.name }}`")
        tree = self.expression()
        token = self.peek()
        if token.kind != "end":
            hint = "combine conditions with `and` / `or`" if token.kind == "name" else ""
            self.fail("unexpected text", token, hint)
        return tree

    def expression(self) -> Node:
        self.nested()
        left = self.conjunction()
        while self.accept("or"):
            right = self.conjunction()
            left = Logic(left.start, right.end, "or", left, right)
        self.depth -= 1
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.accept("and"):
            right = self.negation()
            left = Logic(left.start, right.end, "and", left, right)
        return left

    def negation(self) -> Node:
        token = self.accept("not")
        if token is None:
            return self.comparison()
        self.nested()
        operand = self.negation()
        self.depth -= 1
        return Not(token.start, operand.end, operand)

    def comparison(self) -> Node:
        left = self.postfix()
        token = self.peek()
        if token.kind != "op" or token.text not in _COMPARISONS:
            return left
        self.take()
        right = self.postfix()
        following = self.peek()
        if following.kind == "op" and following.text in _COMPARISONS:
            self.fail("comparisons cannot be chained", following, "join them with `and`")
        return Compare(left.start, right.end, token.text, left, right)

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                name = self.take()
                if name.kind != "name":
                    self.fail("expected a name after `.`", name)
                node = Attr(node.start, name.end, node, name.text)
            elif self.accept("["):
                index = self.expression()
                close = self.expect("]")
                node = Index(node.start, close.end, node, index)
            else:
                return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number" or (token.text == "-" and self.peek().kind == "number"):
            return self.number(token)
        if token.kind == "string":
            return Literal(token.start, token.end, _unquote(token.text))
        if token.text == "(":
            inner = self.expression()
            close = self.expect(")")
            return _with_span(inner, token.start, close.end)
        if token.text == "[":
            items, close = self.arguments("]")
            return ListExpr(token.start, close.end, items)
        if token.kind == "name":
            return self.name(token)
        self.fail("expected a value", token)
        raise AssertionError  # unreachable: fail() raises

    def number(self, token: _Token) -> Node:
        sign = 1
        if token.text == "-":
            sign, token = -1, self.take()
        text = token.text
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return Literal(token.start, token.end, sign * value)

    def name(self, token: _Token) -> Node:
        if token.text in _KEYWORDS:
            return Literal(token.start, token.end, _KEYWORDS[token.text])
        if self.accept("("):
            _check_function(token.text, self.text)
            args, close = self.arguments(")")
            _check_arity(token.text, len(args), self.text)
            return Call(token.start, close.end, token.text, args)
        if token.text in ROOTS:
            return Root(token.start, token.end, token.text)
        raise ExpressionError(
            f"unknown name `{token.text}`{did_you_mean(token.text, ROOTS)}",
            hint="refer to `inputs.<name>` or `steps.<id>.outputs.<field>`; quote strings",
            expression=self.text,
        )

    def arguments(self, closing: str) -> tuple[tuple[Node, ...], _Token]:
        self.nested()
        items: list[Node] = []
        close = self.accept(closing)
        while close is None:
            items.append(self.expression())
            close = self.accept(closing)
            if close is None:
                self.expect(",")
        self.depth -= 1
        return tuple(items), close


def _with_span(node: Node, start: int, end: int) -> Node:
    fields = {name: getattr(node, name) for name in node.__dataclass_fields__}
    return type(node)(**{**fields, "start": start, "end": end})


def _check_function(name: str, text: str) -> None:
    if name not in FUNCTIONS:
        raise ExpressionError(
            f"unknown function `{name}`{did_you_mean(name, FUNCTIONS)}",
            code="unknown_function",
            hint=f"functions: {', '.join(sorted(FUNCTIONS))}",
            expression=text,
        )


def _check_arity(name: str, count: int, text: str) -> None:
    function = FUNCTIONS[name]
    if not function.min_args <= count <= function.max_args:
        raise ExpressionError(
            f"`{name}` takes {function.arity}, got {count}",
            hint=f"{name}{function.signature}",
            expression=text,
        )


@functools.lru_cache(maxsize=4096)
def parse_expression(text: str) -> Node:
    """The syntax tree of one expression (the text inside ``${{ }}``, or a bare one)."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
            hint="split the work into steps",
        )
    return _Parser(text).parse()
