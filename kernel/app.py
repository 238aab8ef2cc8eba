"""The app factory. ``create_app`` builds everything; importing this module builds nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from inspect import CO_COROUTINE
from pathlib import Path
from types import FunctionType, MethodType
from typing import Any

from quart import Blueprint, Quart
from quart.globals import _cv_app
from quart.routing import _normalise_host
from quart.sessions import NullSession, SessionInterface
from quart_schema import QuartSchema
from sqlalchemy import select
from werkzeug.routing import Map, MapAdapter

from notewell.kernel import __version__, http, realtime
from notewell.kernel.actor import Actor
from notewell.kernel.connection import HTTPConnection, NotewellRequest
from notewell.kernel.db import Database
from notewell.kernel.errors import Conflict, NotFound, StartupError
from notewell.kernel.events import Event, EventBus, create_bus
from notewell.kernel.logs import configure_logging
from notewell.kernel.migrate import Migrator
from notewell.kernel.models import PluginState
from notewell.kernel.pipelines.service import PipelineService
from notewell.kernel.plugins import PluginHost, PluginRecord
from notewell.kernel.policy import POLICY_ATTRIBUTE, PUBLIC, Policy, policy_of
from notewell.kernel.settings import PluginSettings, Settings

log = logging.getLogger("notewell")

PLUGIN_STATE_TOPIC = "kernel.plugin_state"


class Kernel:
    """Everything a request, a step or a plugin needs from the core, in one place."""

    def __init__(self, settings: Settings, plugins: PluginHost) -> None:
        self.settings = settings
        self.plugins = plugins
        self.db = Database(settings.effective_database_url)
        self.bus: EventBus = create_bus(settings.redis_url)
        self.pipelines = PipelineService(self)
        self.realtime: realtime.Realtime | None = None
        """The Socket.IO endpoint, in a serving process (``kernel.realtime``)."""
        self.blueprint_owners: dict[str, str] = {}
        self.unpoliced_routes: list[str] = []
        self._prepared = False

    # -- plugins -------------------------------------------------------------------

    def plugin_of_blueprint(self, blueprint: str | None) -> str | None:
        if not blueprint:
            return None
        return self.blueprint_owners.get(blueprint.split(".", 1)[0])

    def migration_folders(self) -> list[Path]:
        folders: list[Path] = []
        for result in self.plugins.call("register_migrations"):
            folders.extend(result if isinstance(result, list) else [result])
        return folders

    def migrator(self) -> Migrator:
        return Migrator(self.db, self.migration_folders())

    async def set_plugin_enabled(self, name: str, enabled: bool, actor: Actor) -> PluginRecord:
        """Persist an admin's choice and tell every process (through the bus)."""
        record = self.plugins.records.get(name)
        if record is None:
            raise NotFound(f"No plugin named {name!r} is installed.", code="plugin_not_found")
        if not record.can_disable:
            raise Conflict(
                f"{name} is part of the kernel and cannot be disabled.", code="plugin_required"
            )
        if record.obj is None:
            raise Conflict(f"{name} failed to load; fix it and restart.", code="plugin_failed")
        async with self.db.session() as session:
            state = await session.get(PluginState, name)
            if state is None:
                session.add(PluginState(name=name, enabled=enabled, updated_by=actor.id))
            else:
                state.enabled = enabled
                state.updated_by = actor.id
        self.plugins.set_enabled(name, enabled)
        await self.bus.publish(Event(PLUGIN_STATE_TOPIC, {"name": name, "enabled": enabled}))
        return record

    async def load_plugin_states(self) -> None:
        async with self.db.session() as session:
            states = (await session.scalars(select(PluginState))).all()
        for state in states:
            if state.name in self.plugins.records:
                self.plugins.set_enabled(state.name, state.enabled)

    async def _on_plugin_state(self, event: Event) -> None:
        name = event.data.get("name")
        if name in self.plugins.records:
            self.plugins.set_enabled(name, bool(event.data.get("enabled")))

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, app: NotewellApp) -> None:
        try:
            await self._start(app)
        except BaseException:
            await self.db.dispose()  # leave no connection behind a failed start
            raise

    async def prepare(self) -> None:
        """Reach the database and apply pending migrations, once per process.

        ``notewell serve`` calls it before listening, so that a bad database URL or a
        failing migration is one clear StartupError; serving then skips it.
        """
        if self._prepared:
            return
        await self.db.check_reachable()
        if self.settings.migrate_on_start:
            applied = await self.migrator().upgrade()
            if applied:
                log.info(
                    "applied %d migration(s)",
                    len(applied),
                    extra={"revisions": [step.revision for step in applied]},
                )
        self._prepared = True

    async def _start(self, app: NotewellApp) -> None:
        await self.prepare()
        await self.load_plugin_states()
        await self.bus.start()
        self.bus.subscribe(self._on_plugin_state, PLUGIN_STATE_TOPIC)
        await self.pipelines.start()
        await self.plugins.acall("on_startup", app=app)

    async def stop(self, app: NotewellApp) -> None:
        await self.pipelines.stop()
        await self.plugins.acall("on_shutdown", app=app)
        await self.bus.stop()
        await self.db.dispose()


class NoSessions(SessionInterface):
    """Quart's cookie session is not used: sign-in state is auth's tokens. Opening a
    signed cookie session on every request cost ~2% of a proxied completion's CPU."""

    _null = NullSession()

    async def open_session(self, app: Any, request: Any) -> NullSession:
        return self._null

    async def save_session(self, app: Any, session: Any, response: Any) -> None:
        return None


class NotewellApp(Quart):
    """A Quart app that carries its :class:`Kernel`."""

    kernel: Kernel
    asgi_http_class = HTTPConnection
    request_class = NotewellRequest
    session_interface = NoSessions()  # type: ignore[assignment]  # any SessionInterface works

    def ensure_async(self, func: Any) -> Any:
        """Quart's, with the common case (an ``async def`` function or method) answered
        without ``inspect``'s general checks: Quart asks it of every before-, after- and
        teardown function on every request."""
        plain = func.__func__ if type(func) is MethodType else func
        if type(plain) is FunctionType and plain.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_async(func)

    def create_url_adapter(self, request: Any) -> MapAdapter | None:
        """Quart's, without working the request's host out again on every request
        (``Map.bind`` lower-cases and IDNA-encodes it each time: ~2% of a proxied
        completion's CPU). The adapter is the same as Quart's, field for field."""
        if (
            request is None
            or self.config["SERVER_NAME"] is not None
            or self.subdomain_matching
            or self.url_map.host_matching
        ):
            return super().create_url_adapter(request)
        return MapAdapter(
            self.url_map,
            _server_name(request.scheme, request.host),
            "/" if request.root_path is None else request.root_path,
            self.url_map.default_subdomain,
            request.scheme,
            request.path,
            request.method,
            request.query_string.decode(),
        )


@lru_cache(maxsize=64)
def _server_name(scheme: str, host: str) -> str:
    """A request's host as ``Map.bind`` makes it: lower case, without the scheme's
    default port, IDNA-encoded (port kept); BadHost (400) when it cannot be."""
    adapter: MapAdapter = Map().bind(_normalise_host(scheme, host.lower()))
    return adapter.server_name


def current_notewell_app() -> NotewellApp | None:
    """The app of the current request (or app context); ``None`` outside one.

    What ``quart.current_app`` gives, read from Quart's context variable: every read
    through that proxy costs about a microsecond, and hot paths read it on each request.
    """
    context = _cv_app.get(None)
    return None if context is None else context.app  # type: ignore[return-value]


def current_kernel() -> Kernel:
    """The kernel of the app handling the current request."""
    app = current_notewell_app()
    if app is None:
        raise RuntimeError("Working outside of application context.")
    return app.kernel


def create_app(settings: Settings | None = None, *, plugins: Iterable[Any] = ()) -> NotewellApp:
    """Build the app: settings, plugins, database, bus, routes. Raises StartupError."""
    settings = settings or Settings.load()
    secret_values = (settings.secret_key.get_secret_value(),) if settings.secret_key else ()
    configure_logging(settings.log_level, settings.log_format, secret_values)
    host = PluginHost()
    host.load(
        only=settings.plugins,
        disabled=settings.disabled_plugins,
        plugin_dirs=settings.plugin_dirs,
        extra=plugins,
    )
    settings.bind_plugins(_settings_models(host))

    app = NotewellApp(
        "notewell.kernel",
        static_folder=None,
        root_path=str(Path(__file__).parent),
        instance_path=str(settings.data_dir),
    )
    app.kernel = Kernel(settings, host)
    http.install(app)
    QuartSchema(
        app,
        info={"title": "Notewell", "version": __version__},
        swagger_ui_path="/api/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
    )
    http.speed_up_json_responses(app)
    _register_routes(app)
    realtime.install(app)

    @app.before_serving
    async def start() -> None:
        await app.kernel.start(app)

    @app.after_serving
    async def stop() -> None:
        await app.kernel.stop(app)

    return app


def _settings_models(host: PluginHost) -> list[type[PluginSettings]]:
    models = host.call("register_settings")
    for model in models:
        if not (isinstance(model, type) and issubclass(model, PluginSettings) and model.section):
            raise StartupError(
                f"register_settings returned {model!r}; expected a PluginSettings "
                "subclass with a `section` name"
            )
    return models


def _with_policy(view: Any, policy: Policy) -> Any:
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    setattr(wrapped, POLICY_ATTRIBUTE, policy)
    return wrapped


def _register_routes(app: NotewellApp) -> None:
    kernel = app.kernel
    for name, result in kernel.plugins.call_with_names("register_routes"):
        for blueprint in result if isinstance(result, list) else [result]:
            if not isinstance(blueprint, Blueprint):
                raise StartupError(f"plugin {name}: register_routes returned {blueprint!r}")
            app.register_blueprint(blueprint)
            kernel.blueprint_owners[blueprint.name] = name
    for endpoint in ("openapi", "swagger_ui"):  # quart-schema's own routes
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = _with_policy(view, PUBLIC)
    kernel.unpoliced_routes = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if policy_of(app.view_functions.get(rule.endpoint)) is None
    )
    for rule in kernel.unpoliced_routes:
        log.error("route %s declares no policy; it will answer 403 to everyone", rule)
