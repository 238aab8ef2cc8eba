"""The model gateway: every model of every enabled connection (and the embedded ones) in
one cached list, and the one way to call them.

The list is built once and kept in memory; a connection change (a bus event, heard by
every process) or the TTL marks it stale, and the next caller rebuilds it. Each
connection has one provider object (one HTTP client) that lives until the connection
changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from notewell.kernel.actor import Actor
from notewell.kernel.errors import Forbidden, NotewellError, Unprocessable
from notewell.kernel.events import Event
from notewell.plugins.providers.errors import ModelNotFound, ModelNotSupported, provider_failed
from notewell.plugins.providers.interface import (
    ChatRequest,
    ChatResult,
    ChatStream,
    EmbeddingResult,
    ModelInfo,
    Provider,
)
from notewell.plugins.providers.keybox import KeyBox
from notewell.plugins.providers.models import Connection
from notewell.plugins.providers.schemas import ConnectionCheck, ListingError, ModelRead
from notewell.plugins.providers.service import CHANGED_TOPIC, ConnectionService
from notewell.plugins.providers.settings import ProvidersSettings

log = logging.getLogger("notewell.providers")

_GATEWAYS: weakref.WeakKeyDictionary[Any, ModelGateway] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CatalogEntry:
    """One model in the shared list: its public id and where it comes from."""

    id: str
    upstream_id: str
    name: str
    capabilities: tuple[str, ...]
    context_length: int | None
    connection: str
    provider: str
    owned_by: str | None

    # how permission plugins see it: resource type "model", resource id the model id
    resource_type = "model"

    @property
    def resource_id(self) -> str:
        return self.id

    def to_public(self) -> ModelRead:
        return ModelRead(
            id=self.id,
            name=self.name,
            capabilities=list(self.capabilities),
            context_length=self.context_length,
            connection=self.connection,
            provider=self.provider,
            owned_by=self.owned_by,
        )

    def to_openai(self) -> dict[str, Any]:
        """The model as an entry of OpenAI's ``GET /v1/models``."""
        return {"id": self.id, "object": "model", "created": 0, "owned_by": self.connection}


@dataclass
class Catalog:
    """A built model list, the providers behind it, and the connections that failed."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    errors: list[ListingError] = field(default_factory=list)
    loaded_at: float = field(default_factory=time.monotonic)


class ModelGateway:
    """Lists and calls models for actors; see ``docs/providers.md``."""

    def __init__(
        self,
        kernel: Any,
        settings: ProvidersSettings,
        connections: ConnectionService,
        static: list[Provider],
    ) -> None:
        self.kernel = kernel
        self.settings = settings
        self.connections = connections
        self.static = static
        self._catalog: Catalog | None = None
        self._lock = asyncio.Lock()
        self._live: dict[tuple[str, Any], Provider] = {}  # (connection id, updated_at)
        self.unsubscribe: Any = None  # from the bus, set at start-up

    # -- the list --------------------------------------------------------------------

    async def catalog(self) -> Catalog:
        """The model list, rebuilt only when stale."""
        catalog = self._catalog
        if catalog is not None and not self._expired(catalog):
            return catalog
        async with self._lock:
            if self._catalog is None or self._expired(self._catalog):
                self._catalog = await self._build()
            return self._catalog

    def invalidate(self) -> None:
        """Drop the cached list; the next caller rebuilds it."""
        self._catalog = None

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: any connection change makes the list stale."""
        if event.topic == CHANGED_TOPIC:
            self.invalidate()

    def _expired(self, catalog: Catalog) -> bool:
        ttl = self.settings.models_cache_ttl_s
        return bool(ttl) and time.monotonic() - catalog.loaded_at > ttl

    async def _build(self) -> Catalog:
        rows = [row for row in await self.connections.list() if row.enabled]
        catalog = Catalog()
        sources: list[tuple[Provider, Connection | None]] = [(p, None) for p in self.static]
        for row in rows:
            try:
                sources.append((self._provider_for(row), row))
            except NotewellError as exc:
                catalog.errors.append(
                    ListingError(connection=row.name, code=exc.code, message=exc.message)
                )
        listed = await asyncio.gather(*(self._list(p) for p, _ in sources))
        for (provider, row), (models, error) in zip(sources, listed, strict=True):
            if error is not None:
                catalog.errors.append(error)
            catalog.providers[provider.name] = provider
            self._add(catalog, provider, row, models)
        await self._retire(rows)
        return catalog

    def _provider_for(self, row: Connection) -> Provider:
        key = (row.id, row.updated_at)
        provider = self._live.get(key)
        if provider is None:
            cls = self.connections.types.get(row.type)
            if cls is None:
                raise ModelNotFound(
                    f"Connection type {row.type!r} is not installed.", code="provider_type_missing"
                )
            provider = cls(self.connections.config_of(row, self.settings))
            self._live[key] = provider
        return provider

    async def _retire(self, rows: list[Connection]) -> None:
        """Close the clients of connections that changed or went away."""
        current = {(row.id, row.updated_at) for row in rows}
        for key in [k for k in self._live if k not in current]:
            await self._live.pop(key).aclose()

    async def _list(self, provider: Provider) -> tuple[list[ModelInfo], ListingError | None]:
        try:
            models = await asyncio.wait_for(provider.list_models(), self.settings.list_timeout_s)
        except TimeoutError:
            return [], ListingError(
                connection=provider.name,
                code="upstream_timeout",
                message="The model list took too long.",
            )
        except NotewellError as exc:
            log.warning("listing models of %s failed: %s", provider.name, exc.code)
            return [], ListingError(connection=provider.name, code=exc.code, message=exc.message)
        return models, None

    def _add(
        self, catalog: Catalog, provider: Provider, row: Connection | None, models: list[ModelInfo]
    ) -> None:
        allowed = list(row.models or []) if row is not None else []
        if allowed:
            listed = {m.id: m for m in models}
            models = [listed.get(i) or ModelInfo(id=i, name=i) for i in allowed]
        prefix = row.prefix if row is not None else ""
        for model in models:
            entry = CatalogEntry(
                id=f"{prefix}{model.id}",
                upstream_id=model.id,
                name=model.name or model.id,
                capabilities=tuple(model.capabilities),
                context_length=model.context_length,
                connection=provider.name,
                provider=provider.type,
                owned_by=model.owned_by,
            )
            if entry.id in catalog.entries:
                log.warning(
                    "model %s of %s is hidden by the one of %s; set a prefix",
                    entry.id,
                    provider.name,
                    catalog.entries[entry.id].connection,
                )
                continue
            catalog.entries[entry.id] = entry

    # -- for actors ------------------------------------------------------------------

    async def may_use(self, actor: Actor, entry: CatalogEntry) -> bool:
        """Whether ``actor`` may use the model (the ``permission_allowed`` hook decides)."""
        allowed = await self.kernel.plugins.afirst(
            "permission_allowed", actor=actor, action="model.use", resource=entry
        )
        return bool(allowed)

    async def list_models(self, actor: Actor) -> list[CatalogEntry]:
        """The models ``actor`` may use, sorted by id."""
        entries = (await self.catalog()).entries.values()
        return [e for e in sorted(entries, key=lambda e: e.id) if await self.may_use(actor, e)]

    async def resolve(
        self, actor: Actor, model: str, capability: str = "chat"
    ) -> tuple[CatalogEntry, Provider]:
        """The entry and provider of ``model``, checked for the capability and the actor."""
        catalog = await self.catalog()
        entry = catalog.entries.get(model)
        if entry is None:
            raise ModelNotFound(f"No model {model!r} is available.", model=model)
        if capability not in entry.capabilities:
            raise ModelNotSupported(f"Model {model!r} cannot do {capability}.", model=model)
        if not await self.may_use(actor, entry):
            raise Forbidden(f"You may not use model {model!r}.", code="model_forbidden")
        return entry, catalog.providers[entry.connection]

    async def chat(self, actor: Actor, request: ChatRequest | dict[str, Any]) -> ChatResult:
        """The whole answer of the requested model."""
        request = parse_request(request)
        entry, provider = await self.resolve(actor, request.model)
        with _confined(entry):
            result = await provider.chat(_for_upstream(request, entry.upstream_id))
        result.model = entry.id
        return result

    async def stream(self, actor: Actor, request: ChatRequest | dict[str, Any]) -> ChatStream:
        """A stream of the answer; close it to cancel the upstream request."""
        request = parse_request(request)
        entry, provider = await self.resolve(actor, request.model)
        with _confined(entry):  # what the stream raises later, ChatStream confines
            deltas = provider.stream(_for_upstream(request, entry.upstream_id))
        return ChatStream(deltas, entry.id)

    async def embed(self, actor: Actor, model: str, texts: list[str]) -> EmbeddingResult:
        """Vectors for ``texts``, in order."""
        if not texts or not all(isinstance(t, str) for t in texts):
            raise Unprocessable("Give a non-empty list of texts.", code="invalid_input")
        entry, provider = await self.resolve(actor, model, "embeddings")
        with _confined(entry):
            result = await provider.embed(entry.upstream_id, texts)
        result.model = entry.id
        return result

    async def check(self, row: Connection) -> ConnectionCheck:
        """Ask one connection's upstream for its models now, bypassing the cache."""
        provider = self.connections.types[row.type](self.connections.config_of(row, self.settings))
        try:
            models, error = await self._list(provider)
        finally:
            await provider.aclose()
        entries = Catalog()
        self._add(entries, provider, row, models)
        return ConnectionCheck(
            ok=error is None, error=error, models=[e.to_public() for e in entries.entries.values()]
        )

    async def aclose(self) -> None:
        """Close every provider's clients (at shutdown)."""
        providers = [*self._live.values(), *self.static]
        self._live.clear()
        self._catalog = None
        for provider in providers:
            await provider.aclose()


@contextlib.contextmanager
def _confined(entry: CatalogEntry) -> Iterator[None]:
    """A call to the provider of ``entry``: anything it raises that is not a
    NotewellError (a bug in its plugin) becomes ``provider_failed``."""
    try:
        yield
    except NotewellError:
        raise
    except Exception as exc:
        raise provider_failed(exc, f"model {entry.id!r}") from exc


def _for_upstream(request: ChatRequest, upstream_id: str) -> ChatRequest:
    """``request`` naming the model as its upstream knows it (copied only when that differs)."""
    if request.model == upstream_id:
        return request
    return request.model_copy(update={"model": upstream_id})


def parse_request(request: ChatRequest | dict[str, Any]) -> ChatRequest:
    """A ChatRequest from one or from its JSON shape; a bad shape is a 422."""
    if isinstance(request, ChatRequest):
        return request
    try:
        return ChatRequest.model_validate(request)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
        ]
        raise Unprocessable(
            "The chat request is invalid.", code="invalid_chat_request", errors=problems
        ) from None


def gateway_of(kernel: Any) -> ModelGateway:
    """The gateway of ``kernel``, built on first use."""
    gateway = _GATEWAYS.get(kernel)
    if gateway is None:
        settings: ProvidersSettings = kernel.settings.plugin("providers")
        types: dict[str, type[Any]] = {}
        for result in kernel.plugins.call("register_providers"):
            types.update(result)
        static: list[Provider] = []
        for result in kernel.plugins.call("register_provider_instances", settings=kernel.settings):
            static.extend(result if isinstance(result, list) else [result])
        box = KeyBox(kernel.settings.ensure_secret_key())
        connections = ConnectionService(kernel, box, types)
        gateway = ModelGateway(kernel, settings, connections, static)
        connections.on_change = gateway.invalidate
        connections.reserved = {provider.name for provider in static}
        _GATEWAYS[kernel] = gateway
    return gateway


def forget(kernel: Any) -> ModelGateway | None:
    """Drop the gateway of ``kernel`` (at shutdown); the caller closes it."""
    return _GATEWAYS.pop(kernel, None)
