"""The plugin host: finds, loads, isolates and switches plugins.

Plugins come from three places, in this order:

1. the kernel's own defaults (``DEFAULT_PLUGINS``), which cannot be disabled;
2. the ``notewell.plugins`` entry-point group (Notewell's built-in features are
   registered there too, so they load exactly like third-party ones);
3. ``*.py`` modules and packages in the folders of ``NOTEWELL_PLUGIN_DIRS``.

A plugin that fails to import, or raises inside a hook, is isolated: logged once with
its traceback, shown as failed, and the rest keep working. Admins enable and disable
plugins at run time; the kernel persists that state and skips a disabled plugin's
hooks, routes, steps and socket handlers.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CoroutineType, ModuleType
from typing import Any, Literal

import pluggy

from notewell.kernel import hookspecs
from notewell.kernel.errors import NotewellError, StartupError

log = logging.getLogger("notewell.plugins")

ENTRY_POINT_GROUP = "notewell.plugins"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "notewell.kernel.defaults.errors",
    "notewell.kernel.defaults.permissions",
    "notewell.kernel.defaults.health",
    "notewell.kernel.defaults.frontend",
    "notewell.kernel.defaults.core_steps",
    "notewell.kernel.defaults.runs_api",
)
"""The kernel's own plugins: the default error renderer, permissions and health routes."""

Source = Literal["default", "builtin", "entrypoint", "directory", "object"]
State = Literal["enabled", "disabled", "failed"]


@dataclass
class PluginRecord:
    """What the host knows about one plugin."""

    name: str
    source: Source
    version: str = ""
    location: str = ""
    enabled: bool = True
    error: str | None = None
    failed_hooks: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    obj: Any = None

    @property
    def state(self) -> State:
        if self.error is not None and self.obj is None:
            return "failed"
        return "enabled" if self.enabled else "disabled"

    @property
    def can_disable(self) -> bool:
        return self.source != "default"

    def to_public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "location": self.location,
            "state": self.state,
            "hooks": self.hooks,
            "error": self.error.strip().splitlines()[-1] if self.error else None,
            "failed_hooks": self.failed_hooks,
        }


@dataclass(frozen=True, slots=True)
class _Enabled:
    """A hook's enabled implementations, in the order pluggy calls them (the last
    registered and the ``tryfirst`` ones first): plugin name, function, argument names."""

    firstresult: bool
    impls: tuple[tuple[str, Callable[..., Any], tuple[str, ...]], ...]


class PluginHost:
    """Wraps a pluggy ``PluginManager`` with discovery, isolation and run-time state."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("notewell")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._enabled: dict[str, _Enabled] = {}
        """Per hook, worked out on its first call since the plugins last changed: hooks
        run several times per request, and asking pluggy and every record each time
        was a measurable share of a proxied completion's CPU."""

    # -- loading ---------------------------------------------------------------------

    def load(
        self,
        *,
        only: Iterable[str] | None = None,
        disabled: Iterable[str] = (),
        plugin_dirs: Iterable[Path] = (),
        extra: Iterable[Any] = (),
    ) -> None:
        """Load defaults, entry points, plugin folders and ``extra`` objects, then check hooks."""
        wanted = set(only) if only is not None else None
        skipped = set(disabled)
        for module_name in DEFAULT_PLUGINS:
            self._add(module_name.rsplit(".", 1)[-1], "default", lambda m=module_name: m)
        installed = self._entry_points()
        unknown = ((wanted or set()) | skipped) - set(installed) - self._dir_names(plugin_dirs)
        if unknown:
            raise StartupError(
                f"Unknown plugin(s) in settings: {', '.join(sorted(unknown))}. "
                f"Installed: {', '.join(sorted(installed)) or 'none'}."
            )
        for name, entry_point in installed.items():
            if (wanted is None or name in wanted) and name not in skipped:
                dist = entry_point.dist
                source: Source = "builtin" if dist and dist.name == "notewell" else "entrypoint"
                self._add(name, source, entry_point.load, version=dist.version if dist else "")
        for folder in plugin_dirs:
            for name, path in self._folder_modules(folder):
                if (wanted is None or name in wanted) and name not in skipped:
                    self._add(name, "directory", lambda p=path, n=name: _import_path(n, p))
        for obj in extra:
            if self.pm.is_registered(obj):
                continue  # an installed plugin a test also passes in explicitly
            name = getattr(obj, "__name__", None) or type(obj).__name__.lower()
            self._add(name, "object", lambda o=obj: o)
        for record in self.records.values():
            if record.obj is not None:
                self._add_hookspecs(record)
        self._enabled.clear()
        self._check_pending()

    def _check_pending(self) -> None:
        """Fail start-up on a hook implementation no spec knows (a misspelt name)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            unknown = str(exc).split("'")[1] if "'" in str(exc) else ""
            known = [
                n for n in dir(self.pm.hook)
                if not n.startswith("_") and getattr(getattr(self.pm.hook, n), "spec", None)
            ]
            close = difflib.get_close_matches(unknown, known, n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise StartupError(
                f"plugin {name}: implements unknown hook {unknown!r}{hint}"
            ) from None

    def _add(self, name: str, source: Source, loader: Any, version: str = "") -> None:
        record = PluginRecord(name=name, source=source, version=version)
        self.records[name] = record
        try:
            obj = loader()
            if isinstance(obj, str):
                obj = importlib.import_module(obj)
            self.pm.register(obj, name=name)
            self._enabled.clear()
        except Exception:
            if source == "default":
                raise
            record.error = traceback.format_exc()
            log.error("plugin %s failed to load", name, extra={"plugin": name}, exc_info=True)
            return
        record.obj = obj
        record.location = getattr(obj, "__file__", None) or type(obj).__module__
        record.version = record.version or _module_version(obj)
        record.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(obj) or [])

    def _add_hookspecs(self, record: PluginRecord) -> None:
        impl = getattr(record.obj, "register_hookspecs", None)
        if impl is not None and hasattr(impl, "notewell_impl"):
            specs = impl()
            if specs is not None:
                self.pm.add_hookspecs(specs)

    @staticmethod
    def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        return {entry_point.name: entry_point for entry_point in found}

    @staticmethod
    def _folder_modules(folder: Path) -> list[tuple[str, Path]]:
        if not folder.is_dir():
            raise StartupError(f"NOTEWELL_PLUGIN_DIRS: plugin folder {folder} does not exist")
        modules = []
        for path in sorted(folder.iterdir()):
            if path.suffix == ".py" and not path.name.startswith("_"):
                modules.append((path.stem, path))
            elif (path / "__init__.py").is_file():
                modules.append((path.name, path / "__init__.py"))
        return modules

    def _dir_names(self, folders: Iterable[Path]) -> set[str]:
        return {
            name
            for folder in folders
            if folder.is_dir()
            for name, _ in self._folder_modules(folder)
        }

    # -- state -----------------------------------------------------------------------

    def is_enabled(self, name: str) -> bool:
        record = self.records.get(name)
        return record is not None and record.obj is not None and record.enabled

    def set_enabled(self, name: str, enabled: bool) -> PluginRecord:
        """Switch a plugin on or off in this process (callers persist and broadcast it)."""
        record = self.records[name]
        record.enabled = enabled
        self._enabled.clear()
        return record

    def name_of(self, obj: Any) -> str:
        return self.pm.get_name(obj) or ""

    # -- calling hooks ---------------------------------------------------------------

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` on every enabled plugin; collect the non-``None`` results.

        Each implementation is called on its own so that one plugin raising does not
        take the others down. Results may be awaitables; see :meth:`acall`.
        """
        return [result for _, result in self.call_with_names(hook, **kwargs)]

    def call_with_names(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like :meth:`call`, with the name of the plugin that gave each result."""
        firstresult = self._enabled_for(hook).firstresult
        results: list[tuple[str, Any]] = []
        for answer in self._answers(hook, kwargs):
            results.append(answer)
            if firstresult:
                break
        return results

    def has_hook(self, hook: str) -> bool:
        """Whether an enabled plugin implements ``hook`` (so that callers can skip
        building its arguments)."""
        return bool(self._enabled_for(hook).impls)

    def _enabled_for(self, hook: str) -> _Enabled:
        enabled = self._enabled.get(hook)
        if enabled is None:
            caller = getattr(self.pm.hook, hook)
            enabled = self._enabled[hook] = _Enabled(
                firstresult=bool(caller.spec and caller.spec.opts.get("firstresult")),
                impls=tuple(
                    (impl.plugin_name, impl.function, tuple(impl.argnames))
                    for impl in reversed(caller.get_hookimpls())
                    if self.is_enabled(impl.plugin_name)
                ),
            )
        return enabled

    def _answers(self, hook: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Lazily yield each enabled implementation's non-``None`` answer, in call order."""
        for name, function, argnames in self._enabled_for(hook).impls:
            try:
                result = function(*map(kwargs.__getitem__, argnames))
            except NotewellError:
                raise  # an answer meant for the client (an invalid token), not a failure
            except Exception:
                self._hook_failed(name, hook)
                continue
            if result is not None:
                yield name, result

    def first(self, hook: str, **kwargs: Any) -> Any:
        """The first non-``None`` answer of a firstresult hook."""
        for _, result in self._answers(hook, kwargs):
            return result
        return None

    async def acall(self, hook: str, **kwargs: Any) -> list[Any]:
        """:meth:`call`, awaiting any awaitable results (Datasette's ``await_me_maybe``)."""
        return [await resolve(result) for result in self.call(hook, **kwargs)]

    async def afirst(self, hook: str, **kwargs: Any) -> Any:
        """The first non-``None`` answer of a firstresult hook, awaited if awaitable (an
        awaitable answer may resolve to ``None``; then the next plugin is asked)."""
        enabled = self._enabled_for(hook)
        assert enabled.firstresult, f"{hook} is not firstresult"
        for name, function, argnames in enabled.impls:
            try:
                value = await resolve(function(*map(kwargs.__getitem__, argnames)))
            except NotewellError:
                raise  # an answer meant for the client (an invalid token), not a failure
            except Exception:
                self._hook_failed(name, hook)
                continue
            if value is not None:
                return value
        return None

    def _hook_failed(self, name: str, hook: str) -> None:
        record = self.records.get(name)
        if record is not None and hook not in record.failed_hooks:
            record.failed_hooks.append(hook)
            record.error = traceback.format_exc()
        log.error("plugin %s raised in hook %s", name, hook, extra={"plugin": name}, exc_info=True)


async def resolve(value: Any) -> Any:
    """Await ``value`` if it is awaitable; hooks may answer either way. (A coroutine,
    the common awaitable, is known by its type: ``isawaitable`` asks an ABC.)"""
    if type(value) is CoroutineType or inspect.isawaitable(value):
        return await value
    return value


def _module_version(obj: Any) -> str:
    version = getattr(obj, "__version__", "")
    if version:
        return str(version)
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return str(getattr(module, "__version__", ""))


def _import_path(name: str, path: Path) -> ModuleType:
    module_name = f"notewell_local_plugins.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plugin {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
