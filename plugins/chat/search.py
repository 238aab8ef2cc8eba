"""Full-text search over the caller's own messages.

SQLite matches through the FTS5 table ``chat_message_fts``; PostgreSQL through the
generated ``search`` tsvector column and its GIN index (see the migration). Both are
kept in step with every write by the database itself. The query is split into words
(all must match; the last one also as a prefix, so results come while typing) and
results come newest first, with a cursor.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.plugins.chat.models import Chat, Message
from notewell.plugins.chat.schemas import SearchHit, SearchResults

MAX_PAGE = 100
MAX_TERMS = 16
SNIPPET_CHARS = 160
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_fts = table("chat_message_fts", column("rowid"), column("content"))


def terms_of(query: str) -> list[str]:
    """The words of a search query, lower-cased (at most ``MAX_TERMS``)."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_TERMS]


def sqlite_match(terms: list[str]) -> str:
    """An FTS5 query: every term as a quoted phrase, the last one also as a prefix."""
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def postgres_match(terms: list[str]) -> str:
    """A ``to_tsquery`` text: every term, the last one also as a prefix."""
    return " & ".join([*terms[:-1], f"{terms[-1]}:*"])


def snippet(content: str, terms: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``content`` around the first match, and where the matches are in it."""
    alternatives = [re.escape(term) for term in terms[:-1]] + [re.escape(terms[-1]) + r"\w*"]
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")", re.IGNORECASE)
    first = pattern.search(content)
    start = 0
    if first is not None and first.start() > SNIPPET_CHARS // 3:
        start = content.rfind(" ", 0, first.start() - SNIPPET_CHARS // 3) + 1
    window = content[start : start + SNIPPET_CHARS]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_CHARS < len(content) else ""
    text_ = " ".join(f"{prefix}{window}{suffix}".split("\n"))
    marks = [(m.start(), m.end()) for m in pattern.finditer(text_)]
    return text_, marks


class SearchService:
    """Searches a user's messages."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, actor: Actor, query: str, *, cursor: str | None = None, limit: int = 20
    ) -> SearchResults:
        terms = terms_of(query)
        if not terms or not actor.is_authenticated:
            return SearchResults(data=[], next_cursor=None)
        limit = max(1, min(limit, MAX_PAGE))
        statement = (
            select(
                Message.id,
                Message.chat_id,
                Message.role,
                Message.content,
                Message.created_at,
                Chat.title,
            )
            .join(Chat, Chat.id == Message.chat_id)
            .where(Message.user_id == actor.id, self._match(terms))
            .order_by(Message.id.desc())
            .limit(limit + 1)
        )
        if self.db.is_sqlite:
            statement = statement.join(_fts, _fts.c.rowid == Message.pk)
        if cursor:
            statement = statement.where(Message.id < cursor)
        async with self.db.session() as session:
            rows = (await session.execute(statement)).all()
        hits = [self._hit(row, terms) for row in rows[:limit]]
        return SearchResults(
            data=hits, next_cursor=hits[-1].message_id if len(rows) > limit else None
        )

    def _match(self, terms: list[str]) -> ColumnElement[Any]:
        if self.db.is_sqlite:
            return _fts.c.content.op("MATCH")(sqlite_match(terms))
        return text("chat_message.search @@ to_tsquery('simple', :tsquery)").bindparams(
            tsquery=postgres_match(terms)
        )

    @staticmethod
    def _hit(row: Any, terms: list[str]) -> SearchHit:
        excerpt, marks = snippet(row.content, terms)
        return SearchHit(
            chat_id=row.chat_id,
            chat_title=row.title,
            message_id=row.id,
            role=row.role,
            snippet=excerpt,
            highlights=marks,
            created_at=row.created_at,
        )
