"""Static types for validation: JSON Schemas of step models, and of expressions.

A schema here is a JSON Schema fragment together with the document it came from (so
``$ref`` into ``$defs`` resolves). ``None`` stands for "any value": validation only
reports a mismatch it can be sure of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.errors import PydanticInvalidForJsonSchema

from notewell.kernel.pipelines.expressions import (
    Call,
    Compare,
    ListExpr,
    Literal,
    Logic,
    Node,
    Not,
)
from notewell.kernel.pipelines.functions import FUNCTIONS, type_name

_ANY_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})


@dataclass(frozen=True)
class Typed:
    """A JSON Schema fragment and the root document its ``$ref``s point into."""

    schema: dict[str, Any]
    root: dict[str, Any]

    @classmethod
    def of(cls, schema: dict[str, Any]) -> Typed:
        return cls(schema, schema)

    @classmethod
    def simple(cls, json_type: str) -> Typed:
        return cls.of({"type": json_type})

    def resolved(self) -> dict[str, Any]:
        """The fragment with ``$ref`` (and single-member ``allOf``) followed."""
        schema = self.schema
        for _ in range(32):
            if "$ref" in schema:
                schema = self._target(schema["$ref"])
            elif len(schema.get("allOf", ())) == 1:
                schema = schema["allOf"][0]
            else:
                break
        return schema

    def _target(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def sub(self, schema: Any) -> Typed | None:
        """A fragment of the same document (``None`` for a missing or boolean schema)."""
        return Typed(schema, self.root) if isinstance(schema, dict) and schema else None

    def options(self) -> list[Typed]:
        """The members of an ``anyOf``/``oneOf``, or just this schema."""
        schema = self.resolved()
        members = schema.get("anyOf") or schema.get("oneOf")
        if not members:
            return [Typed(schema, self.root)]
        return [option for member in members if (option := self.sub(member)) is not None]


def model_schema(model: type[BaseModel]) -> Typed | None:
    """The JSON Schema of a step's ``Inputs``/``Outputs`` model, or ``None`` (any) when a
    field has no JSON Schema (an arbitrary Python type)."""
    try:
        return Typed.of(model.model_json_schema())
    except PydanticInvalidForJsonSchema:
        return None


def json_types(typed: Typed | None) -> frozenset[str] | None:
    """The JSON types a schema allows, or ``None`` when it allows anything."""
    if typed is None:
        return None
    found: set[str] = set()
    for option in typed.options():
        schema = option.resolved()
        if "type" in schema:
            kinds = schema["type"]
            found.update([kinds] if isinstance(kinds, str) else kinds)
        elif "const" in schema:
            found.add(type_name(schema["const"]))
        elif "enum" in schema:
            found.update(type_name(value) for value in schema["enum"])
        elif "properties" in schema:
            found.add("object")
        else:
            return None
    return frozenset(found) if found else None


def _accepts(wanted: str, given: str) -> bool:
    return wanted == given or (wanted == "number" and given == "integer")


def fits(producer: Typed | None, consumer: Typed | None) -> bool:
    """Whether a value of ``producer``'s type can be given where ``consumer`` is wanted.

    ``null`` from the producer is ignored (an optional output feeding a required
    input fails at run time, not here); arrays compare their items.
    """
    given, wanted = json_types(producer), json_types(consumer)
    if given is None or wanted is None:
        return True
    given = given - {"null"}
    if not given:
        return True
    for kind in given:
        for want in wanted:
            if not _accepts(want, kind):
                continue
            if kind != "array" or fits(items_of(producer), items_of(consumer)):
                return True
    return False


def items_of(typed: Typed | None) -> Typed | None:
    """The item schema of an array schema (``None``: any)."""
    if typed is None:
        return None
    for option in typed.options():
        schema = option.resolved()
        if "items" in schema:
            return option.sub(schema["items"])
    return None


def property_of(typed: Typed | None, name: str) -> tuple[Typed | None, bool]:
    """``(schema of property name, known)``; ``known`` is ``False`` only when the
    schema is a closed object that has no such property."""
    if typed is None:
        return None, True
    closed = False
    for option in typed.options():
        schema = option.resolved()
        properties = schema.get("properties")
        if isinstance(properties, dict):
            if name in properties:
                return option.sub(properties[name]), True
            # pydantic omits additionalProperties for models that ignore extra keys
            extra = schema.get("additionalProperties", False)
            if isinstance(extra, dict) or extra is True:
                return option.sub(extra) if isinstance(extra, dict) else None, True
            closed = True
        else:
            kinds = json_types(option)
            if kinds is None or "object" in kinds:
                return None, True
            closed = True  # a string, number or array has no fields
    return None, not closed


def property_names(typed: Typed | None) -> list[str]:
    """The declared property names of an object schema."""
    if typed is None:
        return []
    names: list[str] = []
    for option in typed.options():
        names.extend(option.resolved().get("properties", {}))
    return names


def describe(typed: Typed | None) -> str:
    """A short type name for messages: ``string``, ``array of string``, ``integer or null``."""
    kinds = json_types(typed)
    if kinds is None:
        return "any value"
    words = []
    for kind in sorted(kinds, key=lambda k: (k == "null", k)):
        if kind == "array" and (items := items_of(typed)) is not None:
            inner = describe(items)
            words.append(f"array of {inner}" if inner != "any value" else "array")
        else:
            words.append(kind)
    return " or ".join(words)


def union(*members: Typed | None) -> Typed | None:
    """A schema allowing any of ``members`` (``None`` if one of them allows anything)."""
    if any(member is None for member in members):
        return None
    options = [{"type": sorted(json_types(m) or ())} for m in members if m is not None]
    return Typed.of({"anyOf": options})


def infer(node: Node, reference: Callable[[Node], tuple[bool, Typed | None]]) -> Typed | None:
    """The schema of an expression's value, ``None`` when it cannot be known.

    ``reference(node)`` answers ``(True, schema)`` for nodes that are references.
    """
    is_reference, typed = reference(node)
    if is_reference:
        return typed
    if isinstance(node, Literal):
        return Typed.simple(type_name(node.value))
    if isinstance(node, ListExpr):
        return Typed.simple("array")
    if isinstance(node, Compare | Not):
        return Typed.simple("boolean")
    if isinstance(node, Logic):
        return union(infer(node.left, reference), infer(node.right, reference))
    if isinstance(node, Call):
        return _infer_call(node, reference)
    return None


def _infer_call(node: Call, reference: Callable[[Node], tuple[bool, Typed | None]]) -> Typed | None:
    returns = FUNCTIONS[node.function].returns
    if returns is not None:
        return Typed.simple(returns)
    args = [infer(arg, reference) for arg in node.args]
    if node.function in ("default", "coalesce"):
        return union(*args)
    if node.function in ("first", "last") and args:
        return items_of(args[0])
    return None
