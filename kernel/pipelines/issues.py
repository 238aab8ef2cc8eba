"""What loading and validation report: an ``Issue`` at a ``Location``.

``loader.py`` re-exports ``Location`` and ``validate.py`` re-exports ``Issue``; they live
here so that both modules can use them without importing each other.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

ISSUE_CODES: tuple[str, ...] = (
    # loading (loader.py): the file itself
    "unreadable",
    "too_large",
    "yaml_syntax",
    "too_deep",
    "alias_limit",
    "duplicate_key",
    "schema",
    # validation (validate.py): the pipeline against the registered steps
    "duplicate_step_id",
    "unknown_step_type",
    "unknown_input",
    "unknown_step_reference",
    "unknown_output",
    "bad_output_reference",
    "cycle",
    "missing_argument",
    "unknown_argument",
    "type_mismatch",
    "invalid_expression",
    "unknown_function",
)
"""Every issue code; stable, and each explained in docs/pipelines.md."""


@dataclass(frozen=True)
class Location:
    """A place in a pipeline file; ``line`` and ``column`` are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Issue:
    """One problem with a pipeline: a stable snake_case ``code``, a ``message`` for
    people, where it is and, in ``hint``, the fix to type next."""

    code: str
    message: str
    location: Location | None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location is not None else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.code}: {self.message}{hint}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (for ``--json`` output and problem documents)."""
        where = self.location
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "file": where.file if where else None,
            "line": where.line if where else None,
            "column": where.column if where else None,
        }


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` — did you mean `x`?`` for the closest candidate, or ``""`` if none is close."""
    close = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" — did you mean `{close[0]}`?" if close else ""


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or ``None`` if none is close enough."""
    close = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.6)
    return close[0] if close else None


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Issues in file order (issues without a location last), duplicates dropped."""
    unique = list(dict.fromkeys(issues))

    def key(issue: Issue) -> tuple[int, int, int, str]:
        where = issue.location
        if where is None:
            return (1, 0, 0, issue.code)
        return (0, where.line, where.column, issue.code)

    return sorted(unique, key=key)
