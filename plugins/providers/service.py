"""Connections: create, read, change and delete them; keys encrypted; changes announced
on the bus so that every process drops its cached model list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notewell.kernel.actor import Actor
from notewell.kernel.errors import Conflict, NotFound, Unprocessable
from notewell.kernel.events import Event
from notewell.plugins.providers.interface import ConnectionConfig
from notewell.plugins.providers.keybox import KeyBox
from notewell.plugins.providers.models import Connection
from notewell.plugins.providers.schemas import ConnectionCreate, ConnectionUpdate
from notewell.plugins.providers.settings import ProvidersSettings

CHANGED_TOPIC = "providers.connections_changed"
"""Published (to admins) whenever a connection is created, changed or deleted."""


class ConnectionService:
    """Admin operations on connections. ``types`` maps connection types to classes."""

    def __init__(self, kernel: Any, box: KeyBox, types: Mapping[str, type[Any]]) -> None:
        self.db = kernel.db
        self.bus = kernel.bus
        self.box = box
        self.types = types
        self.on_change: Callable[[], None] | None = None
        """Called in this process at once (other processes hear the bus event)."""
        self.reserved: set[str] = set()
        """Names taken by providers that need no connection (``local``)."""

    async def list(self) -> list[Connection]:
        """Every connection, by name."""
        async with self.db.session() as session:
            return list(await session.scalars(select(Connection).order_by(Connection.name)))

    async def get(self, connection_id: str) -> Connection:
        """One connection; NotFound (``connection_not_found``) if there is none."""
        async with self.db.session() as session:
            row = await session.get(Connection, connection_id)
        if row is None:
            raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
        return row

    async def create(self, data: ConnectionCreate, actor: Actor) -> Connection:
        """Store a new connection (key encrypted) and announce it."""
        cls = self._type(data.type)
        self._check_name(data.name)
        key = data.api_key.get_secret_value() if data.api_key else ""
        if cls.requires_api_key and not key:
            raise Unprocessable(
                f"A {cls.label} connection needs an API key.", code="api_key_required"
            )
        row = Connection(
            name=data.name,
            type=data.type,
            base_url=data.base_url,
            prefix=data.prefix,
            api_key_encrypted=self.box.encrypt(key) if key else None,
            models=data.models,
            enabled=data.enabled,
            options=data.options,
            created_by=actor.id,
        )
        await self._save(row, is_new=True)
        return row

    async def update(self, connection_id: str, data: ConnectionUpdate) -> Connection:
        """Apply the fields that were sent; ``api_key: null`` clears the key."""
        async with self.db.session() as session:
            row = await session.get(Connection, connection_id)
            if row is None:
                raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
            if data.name is not None:
                self._check_name(data.name)
            for field in data.model_fields_set - {"api_key"}:
                value = getattr(data, field)
                if value is not None:
                    setattr(row, field, value)
            if "api_key" in data.model_fields_set:
                key = data.api_key.get_secret_value() if data.api_key else ""
                row.api_key_encrypted = self.box.encrypt(key) if key else None
            await self._flush(session, row.name)
        await self._announce("updated", row)
        return row

    async def delete(self, connection_id: str) -> None:
        """Remove a connection and announce it."""
        async with self.db.session() as session:
            row = await session.get(Connection, connection_id)
            if row is None:
                raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
            await session.delete(row)
        await self._announce("deleted", row)

    def config_of(self, row: Connection, settings: ProvidersSettings) -> ConnectionConfig:
        """What a provider needs, with the key decrypted (kept in memory only)."""
        key = (
            self.box.decrypt(row.api_key_encrypted, connection=row.name)
            if row.api_key_encrypted
            else None
        )
        return ConnectionConfig(
            name=row.name,
            type=row.type,
            base_url=row.base_url,
            api_key=key,
            options=dict(row.options or {}),
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
        )

    def _check_name(self, name: str) -> None:
        if name in self.reserved:
            raise Conflict(
                f"The name {name!r} is taken by a built-in provider.", code="connection_name_taken"
            )

    def type_of(self, row: Connection) -> type[Any]:
        """The provider class of a connection; Unprocessable if that type is not installed."""
        return self._type(row.type)

    def _type(self, name: str) -> type[Any]:
        cls = self.types.get(name)
        if cls is None:
            known = ", ".join(sorted(self.types)) or "none"
            raise Unprocessable(
                f"Unknown connection type {name!r}; known types: {known}.",
                code="unknown_provider_type",
            )
        return cls

    async def _save(self, row: Connection, *, is_new: bool) -> None:
        async with self.db.session() as session:
            session.add(row)
            await self._flush(session, row.name)
        await self._announce("created" if is_new else "updated", row)

    async def _flush(self, session: Any, name: str) -> None:
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(
                f"A connection named {name!r} already exists.", code="connection_name_taken"
            ) from None

    async def _announce(self, change: str, row: Connection) -> None:
        if self.on_change is not None:
            self.on_change()
        await self.bus.publish(
            Event(CHANGED_TOPIC, {"change": change, "id": row.id, "name": row.name})
        )
