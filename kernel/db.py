"""The database: one async engine, one way to open a session, one declarative base.

SQLite (aiosqlite) is the embedded default, tuned for a server: WAL journal, a busy
timeout instead of instant ``database is locked`` errors, and foreign keys on.
PostgreSQL (asyncpg) is used when ``NOTEWELL_DATABASE_URL`` says so; the plain
``postgresql://``, ``postgres://`` and ``sqlite://`` spellings are mapped onto those
async drivers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from notewell.kernel.errors import StartupError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BUSY_TIMEOUT_S = 30
"""How long SQLite waits for another writer before giving up."""

CONNECT_TIMEOUT_S = 10
"""How long a PostgreSQL connection attempt may take."""

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


class Model(DeclarativeBase):
    """Declarative base of every table; plugins name theirs ``<plugin>_<thing>``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (what :class:`UTCDateTime` stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store aware ones converted to UTC."""
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use notewell.kernel.db.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite gives back naive; PostgreSQL's answer is kept."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def database_url(url: str | URL) -> URL:
    """Parse ``url`` and map plain PostgreSQL/SQLite URLs onto the async drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StartupError(f"NOTEWELL_DATABASE_URL: not a database URL: {exc}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


class Database:
    """Owns the engine; ``session()`` is the one session scope everything uses."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = database_url(url)
        if self.sqlite_path is not None:
            try:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"NOTEWELL_DATABASE_URL: cannot create {self.sqlite_path.parent}: "
                    f"{exc.strerror}"
                ) from None
        try:
            self.engine: AsyncEngine = create_async_engine(
                self.url, echo=echo, **_engine_options(self)
            )
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StartupError(
                f"NOTEWELL_DATABASE_URL: unsupported database URL {self.shown_url}: {exc}"
            ) from None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (else PostgreSQL)."""
        return self.url.get_backend_name() == "sqlite"

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or ``None`` for PostgreSQL and in-memory SQLite."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return None
        return Path(self.url.database)

    @property
    def shown_url(self) -> str:
        """The URL with its password hidden, fit for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def check_reachable(self) -> None:
        """Like :meth:`ping`, but as the one clear StartupError a person can act on."""
        try:
            await self.ping()
        except (SQLAlchemyError, OSError) as exc:  # driver errors, or the socket's
            raise StartupError(
                f"NOTEWELL_DATABASE_URL: cannot connect to {self.shown_url}: {_first_line(exc)}"
            ) from None

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    message = str(cause).strip()
    return message.splitlines()[0] if message else type(cause).__name__


def _engine_options(database: Database) -> dict[str, Any]:
    if database.is_sqlite:
        return {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    return {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 20,
        "connect_args": {"timeout": CONNECT_TIMEOUT_S},
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
