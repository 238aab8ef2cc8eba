"""Pipeline files → ``LoadedPipeline``: bounded YAML, every value's location, the typed spec.

``load_pipeline`` raises ``PipelineLoadError`` with every problem it found at once:
malformed YAML (``yaml_syntax``), limits (``too_large``, ``too_deep``,
``alias_limit``), repeated keys (``duplicate_key``) and format errors (``schema``).
A file that loads is then checked against the step registry by ``validate.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from notewell.kernel.pipelines import yamlsafe
from notewell.kernel.pipelines.issues import Issue, Location, sort_issues
from notewell.kernel.pipelines.schema_errors import schema_issues
from notewell.kernel.pipelines.spec import PipelineSpec

__all__ = [
    "LoadedPipeline",
    "Location",
    "PipelineLoadError",
    "Positions",
    "load_pipeline",
]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class _Span:
    line: int
    column: int
    start: int
    end: int
    key: tuple[int, int] | None
    collection: bool


class Positions:
    """Where each value of a YAML document is, keyed by its path (keys and indexes)."""

    def __init__(self, file: str, text: str, spans: Mapping[PathKey, _Span]) -> None:
        self.file = file
        self.text = text
        self._spans = dict(spans)

    def _nearest(self, path: PathKey) -> tuple[PathKey, _Span | None]:
        while path and path not in self._spans:
            path = path[:-1]
        return path, self._spans.get(path)

    def locate(self, *path: str | int) -> Location:
        """The value at ``path`` — its key for a mapping or list, else the value itself.

        A path that does not exist gives its nearest existing parent.
        """
        _, span = self._nearest(tuple(path))
        if span is None:
            return Location(self.file, 1, 1)
        if span.collection and span.key is not None:
            return Location(self.file, *span.key)
        return Location(self.file, span.line, span.column)

    def locate_key(self, *path: str | int) -> Location:
        """The key of the mapping entry at ``path`` (or ``locate(*path)`` if it has none)."""
        found, span = self._nearest(tuple(path))
        if span is not None and span.key is not None and found == tuple(path):
            return Location(self.file, *span.key)
        return self.locate(*path)

    def locate_text(self, path: PathKey, needle: str) -> Location:
        """Where ``needle`` first occurs inside the value at ``path`` (for a ``${{ }}``
        inside a longer string); ``locate(*path)`` when it cannot be found verbatim."""
        found, span = self._nearest(tuple(path))
        if span is None or found != tuple(path):
            return self.locate(*path)
        index = self.text.find(needle, span.start, span.end)
        if index < 0:
            return self.locate(*path)
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return Location(self.file, line, column)


@dataclass(frozen=True)
class LoadedPipeline:
    """A parsed and schema-checked pipeline file, with the location of every value."""

    spec: PipelineSpec
    path: str
    content_hash: str
    text: str
    positions: Positions | None = field(default=None, repr=False, compare=False, hash=False)

    @property
    def _positions(self) -> Positions:
        return self.positions or Positions(self.path, self.text, {})

    def locate(self, *path: str | int) -> Location:
        """Location of the value at ``path``, e.g. ``locate("steps", 2, "with", "prompt")``;
        the nearest existing parent when the path does not exist."""
        return self._positions.locate(*path)

    def locate_key(self, *path: str | int) -> Location:
        """Location of the key of the mapping entry at ``path``."""
        return self._positions.locate_key(*path)

    def locate_text(self, path: PathKey, needle: str) -> Location:
        """Location of ``needle`` inside the string value at ``path``."""
        return self._positions.locate_text(path, needle)


class PipelineLoadError(Exception):
    """A pipeline file could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{issues[0]}{more}" if issues else "pipeline could not be loaded")


def load_pipeline(source: str | Path, *, text: str | None = None) -> LoadedPipeline:
    """Load and schema-check a pipeline from the file ``source``, or from ``text``
    (then ``source`` only names it in messages).

    Raises ``PipelineLoadError`` listing every problem, each with its location.
    """
    name = str(source)
    raw = _read(source, text)
    if len(raw) > yamlsafe.MAX_BYTES:
        raise _single(
            "too_large",
            name,
            f"the file is {len(raw)} bytes, more than {yamlsafe.MAX_BYTES}",
            "split it into smaller pipelines",
        )
    decoded = _decode(raw, name)
    node = _compose(decoded, name)
    spans: dict[PathKey, _Span] = {}
    issues = list(_index(node, (), None, spans, name, set()))
    positions = Positions(name, decoded, spans)
    data = _construct(node, name)
    issues.extend(schema_issues(data, positions))
    if issues:
        raise PipelineLoadError(sort_issues(issues))
    spec = PipelineSpec.model_validate(data)
    digest = hashlib.sha256(raw).hexdigest()
    return LoadedPipeline(spec, name, digest, decoded, positions)


def _single(
    code: str, name: str, message: str, hint: str, line: int = 1, column: int = 1
) -> PipelineLoadError:
    return PipelineLoadError([Issue(code, message, Location(name, line, column), hint)])


def _read(source: str | Path, text: str | None) -> bytes:
    if text is not None:
        return text.encode("utf-8")
    try:
        with open(source, "rb") as handle:
            return handle.read(yamlsafe.MAX_BYTES + 1)
    except OSError as exc:
        raise _single(
            "unreadable", str(source), exc.strerror or str(exc), "check the path and permissions"
        ) from None


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _single(
            "yaml_syntax", name, "the file is not UTF-8 text", "save it as UTF-8", line, column
        ) from None


def _compose(text: str, name: str) -> Node:
    try:
        node = yamlsafe.compose(text)
    except yamlsafe.LimitExceeded as exc:
        line, column = _mark(exc.mark)
        raise _single(exc.code, name, exc.message, exc.hint, line, column) from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, name) from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no mark
        raise _single("yaml_syntax", name, str(exc), "fix the YAML syntax") from None
    if node is None:
        raise _single("schema", name, "the file is empty", "start with `name:` and `steps:`")
    return node


def _construct(node: Node, name: str) -> Any:
    try:
        return yamlsafe.construct(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, name) from None


def _yaml_error(exc: yaml.MarkedYAMLError, name: str) -> PipelineLoadError:
    mark = exc.problem_mark or exc.context_mark
    line, column = _mark(mark)
    problem = exc.problem or "malformed YAML"
    context = f" ({exc.context})" if exc.context else ""
    hint = "quote the value" if "mapping values are not allowed" in problem else ""
    return _single(
        "yaml_syntax", name, f"{problem}{context}", hint or "fix the YAML syntax", line, column
    )


def _mark(mark: yaml.Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _index(
    node: Node,
    path: PathKey,
    key: tuple[int, int] | None,
    spans: dict[PathKey, _Span],
    name: str,
    checked: set[int],
) -> Iterator[Issue]:
    """Record the span of ``node`` and its descendants; yield repeated-key issues."""
    collection = isinstance(node, MappingNode | SequenceNode)
    spans[path] = _Span(
        node.start_mark.line + 1,
        node.start_mark.column + 1,
        node.start_mark.index,
        node.end_mark.index,
        key,
        collection,
    )
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index(item, (*path, index), None, spans, name, checked)
    elif isinstance(node, MappingNode):
        first_check = id(node) not in checked
        checked.add(id(node))
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            where = _mark(key_node.start_mark)
            if key_node.value in seen and first_check:
                yield Issue(
                    "duplicate_key",
                    f"`{key_node.value}` appears twice in this mapping",
                    Location(name, *where),
                    "remove one of them (YAML keeps only the last)",
                )
            seen.add(key_node.value)
            yield from _index(value_node, (*path, key_node.value), where, spans, name, checked)
