"""References between pipeline values: finding, rendering and evaluating ``${{ … }}``.

The scope an expression sees::

    {"inputs": {...}, "steps": {"<id>": {"outputs": {...}, "status": "succeeded"}}}

A missing key or an index past the end yields ``null`` (so ``default(x, y)`` works
for skipped steps); taking a field of a string, number or boolean is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from notewell.kernel.pipelines.expressions import (
    OPEN,
    Attr,
    Call,
    Compare,
    Expression,
    ExpressionError,
    Index,
    ListExpr,
    Literal,
    Logic,
    Node,
    Not,
    Root,
    parse_expression,
)
from notewell.kernel.pipelines.functions import (
    FUNCTIONS,
    MAX_ITEMS,
    check_text,
    equal,
    to_text,
    truthy,
    type_name,
)
from notewell.kernel.pipelines.templates import expressions_in, parse_template

if TYPE_CHECKING:
    from notewell.kernel.pipelines.spec import PipelineSpec

__all__ = [
    "ExpressionError",
    "Reference",
    "as_reference",
    "condition_expression",
    "evaluate",
    "evaluate_condition",
    "find_references",
    "find_valid_references",
    "iter_templates",
    "references_in",
    "render",
    "single_expression",
    "step_dependencies",
]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Reference:
    """One reference in an expression: ``steps.a.outputs.y[0]`` has root ``steps``,
    path ``("a", "outputs", "y", 0)``, step_id ``a``, and that text."""

    root: str
    path: PathKey
    step_id: str | None
    text: str


# -- finding -----------------------------------------------------------------------------


def iter_templates(value: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """Every string in ``value`` (nested dicts and lists) that contains ``${{``, with
    its path below ``path``."""
    if isinstance(value, str):
        if OPEN in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_templates(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_templates(item, (*path, index))


def find_references(value: Any) -> list[Reference]:
    """Every reference in the strings of ``value``, in order.

    Raises ``ExpressionError`` for an expression that does not parse.
    """
    found: list[Reference] = []
    for _, template in iter_templates(value):
        for part in parse_template(template):
            if isinstance(part, Expression):
                found.extend(references_in(part))
    return found


def find_valid_references(value: Any) -> list[Reference]:
    """Like ``find_references``, leaving out expressions that do not parse."""
    found: list[Reference] = []
    for _, template in iter_templates(value):
        for part in expressions_in(template):
            if isinstance(part, Expression):
                found.extend(references_in(part))
    return found


def references_in(expression: Expression) -> list[Reference]:
    """The references in one parsed expression."""
    found: list[Reference] = []
    _collect(expression.tree, expression.text, found)
    return found


def as_reference(node: Node, text: str) -> Reference | None:
    """The reference ``node`` is (a root followed by fixed names and indexes), if any;
    ``text`` is the expression ``node`` was parsed from."""
    chain = _constant_chain(node)
    if chain is None:
        return None
    root, path = chain
    step_id = path[0] if root == "steps" and path and isinstance(path[0], str) else None
    return Reference(root, path, step_id, text[node.start : node.end])


def _collect(node: Node, text: str, found: list[Reference]) -> None:
    reference = as_reference(node, text)
    if reference is not None:
        found.append(reference)
        return
    children: tuple[Node, ...] = ()
    if isinstance(node, Attr):
        children = (node.target,)
    elif isinstance(node, Index):
        children = (node.target, node.index)
    elif isinstance(node, Call | ListExpr):
        children = node.args if isinstance(node, Call) else node.items
    elif isinstance(node, Compare | Logic):
        children = (node.left, node.right)
    elif isinstance(node, Not):
        children = (node.operand,)
    for child in children:
        _collect(child, text, found)


def _constant_chain(node: Node) -> tuple[str, PathKey] | None:
    """``(root, path)`` when ``node`` is a root followed by fixed names and indexes."""
    if isinstance(node, Root):
        return node.name, ()
    if isinstance(node, Attr):
        key: str | int = node.name
    elif isinstance(node, Index) and isinstance(node.index, Literal):
        if not isinstance(node.index.value, str | int) or isinstance(node.index.value, bool):
            return None
        key = node.index.value
    else:
        return None
    inner = _constant_chain(node.target)
    return None if inner is None else (inner[0], (*inner[1], key))


def step_dependencies(spec: PipelineSpec, *, skip_invalid: bool = False) -> dict[str, set[str]]:
    """Step id → ids of the steps it depends on: its ``needs`` plus the steps its
    ``with`` and ``if`` refer to. Only ids of existing steps are included (validation
    reports the others); a step that refers to itself lists itself (a cycle).

    Raises ``ExpressionError`` for an expression that does not parse, unless
    ``skip_invalid`` (then just that expression's references are left out).
    """
    known = {step.id for step in spec.steps}
    graph: dict[str, set[str]] = {}
    for step in spec.steps:
        found = (find_valid_references if skip_invalid else find_references)(step.with_)
        if step.if_ is not None:
            try:
                found += references_in(condition_expression(step.if_))
            except ExpressionError:
                if not skip_invalid:
                    raise
        referred = {ref.step_id for ref in found}
        graph[step.id] = {sid for sid in (*step.needs, *referred) if sid in known}
    return graph


# -- evaluating --------------------------------------------------------------------------


def single_expression(parts: tuple[str | Expression, ...]) -> Expression | None:
    """The expression when a template is exactly one ``${{ }}`` (blank text around it)."""
    expressions = [part for part in parts if isinstance(part, Expression)]
    texts = [part for part in parts if isinstance(part, str)]
    if len(expressions) == 1 and all(not text.strip() for text in texts):
        return expressions[0]
    return None


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every ``${{ }}`` replaced, recursively through dicts and lists.

    A string that is exactly one expression becomes the expression's value (of any
    type); expressions inside longer strings are written as text (arrays and objects
    as JSON, null as nothing).
    """
    if isinstance(value, str):
        return _render_string(value, scope) if OPEN in value else value
    if type(value) is dict:
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, Mapping):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, scope) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _compiled(template: str) -> tuple[tuple[str | Expression, ...], Expression | None]:
    parts = parse_template(template)
    return parts, single_expression(parts)


def _render_string(template: str, scope: Mapping[str, Any]) -> Any:
    parts, single = _compiled(template)
    if single is not None:
        return _evaluate_expression(single, scope)
    pieces = [
        part if isinstance(part, str) else to_text(_evaluate_expression(part, scope))
        for part in parts
    ]
    try:
        return check_text("".join(pieces))
    except ValueError as exc:
        raise ExpressionError(str(exc), expression=template[:80]) from None


def condition_expression(condition: str) -> Expression:
    """The expression of an ``if:``, written as ``"${{ … }}"`` or bare."""
    text = condition.strip()
    if OPEN not in text:
        try:
            return Expression(text, parse_expression(text))
        except ExpressionError as exc:
            exc.expression = exc.expression or text
            raise
    single = single_expression(parse_template(text))
    if single is None:
        raise ExpressionError(
            "a condition must be one expression, with no text around it",
            hint="put the whole condition inside: `${{ steps.a.outputs.n > 0 }}`",
            expression=text,
        )
    return single


def evaluate_condition(expression: str, scope: Mapping[str, Any]) -> bool:
    """Whether an ``if:`` holds; ``expression`` is ``"${{ … }}"`` or a bare expression."""
    return truthy(_evaluate_expression(condition_expression(expression), scope))


def _evaluate_expression(expression: Expression, scope: Mapping[str, Any]) -> Any:
    try:
        return evaluate(expression.tree, scope)
    except ExpressionError as exc:
        exc.expression = exc.expression or expression.text
        raise


def evaluate(node: Node, scope: Mapping[str, Any]) -> Any:
    """The value of a parsed expression in ``scope``."""
    # most common first: references are chains of Attr ending in a Root
    if isinstance(node, Attr):
        return _get(evaluate(node.target, scope), node.name)
    if isinstance(node, Root):
        return scope.get(node.name)
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Index):
        return _get(evaluate(node.target, scope), evaluate(node.index, scope))
    if isinstance(node, Logic):
        left = evaluate(node.left, scope)
        if truthy(left) == (node.op == "or"):
            return left
        return evaluate(node.right, scope)
    if isinstance(node, Not):
        return not truthy(evaluate(node.operand, scope))
    if isinstance(node, Compare):
        return _compare(node.op, evaluate(node.left, scope), evaluate(node.right, scope))
    if isinstance(node, ListExpr):
        return [evaluate(item, scope) for item in node.items]
    if isinstance(node, Call):
        return _call(node, [evaluate(arg, scope) for arg in node.args])
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")


def _call(node: Call, args: list[Any]) -> Any:
    try:
        result = FUNCTIONS[node.function].call(*args)
    except ValueError as exc:
        raise ExpressionError(str(exc)) from None
    if isinstance(result, list) and len(result) > MAX_ITEMS:
        raise ExpressionError(f"`{node.function}` made an array of more than {MAX_ITEMS} items")
    return result


def _get(container: Any, key: Any) -> Any:
    if container is None:
        return None
    if type(container) is dict and type(key) is str:  # the common case, without ABC checks
        return container.get(key)
    if isinstance(container, BaseModel):
        container = container.model_dump(mode="json")
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise ExpressionError(f"an index must be a string or an integer, got {type_name(key)}")
    if isinstance(container, Mapping):
        return container.get(key)
    if isinstance(container, list | tuple | str):
        if isinstance(key, str):
            raise ExpressionError(
                f"cannot take `.{key}` of {type_name(container)}",
                hint="index arrays with a number, e.g. `[0]`",
            )
        return container[key] if -len(container) <= key < len(container) else None
    shown = f".{key}" if isinstance(key, str) else f"[{key}]"
    raise ExpressionError(f"cannot take `{shown}` of {type_name(container)}")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    strings = isinstance(left, str) and isinstance(right, str)
    if not (numbers or strings):
        raise ExpressionError(
            f"cannot compare {type_name(left)} with {type_name(right)} using `{op}`",
            hint="compare numbers with numbers, strings with strings; default(x, 0) for null",
        )
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)
