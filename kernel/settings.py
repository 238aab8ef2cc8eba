"""Typed settings: the only place Notewell reads its environment.

Precedence, highest first — one order, shown by ``notewell config show``:

1. arguments passed in code (tests, ``create_app(Settings(...))``)
2. environment variables ``NOTEWELL_<NAME>`` (``NOTEWELL_<SECTION>__<NAME>`` for plugins)
3. the TOML config file named by ``NOTEWELL_CONFIG`` (kernel keys at the top level,
   each plugin's under ``[<section>]``)
4. the defaults, which are the embedded ones: SQLite in the data folder, in-process bus,
   in-memory rate limits, the local worker pool.

Choices admins make at run time (which plugins are enabled, connections, quotas) are
data, not settings: they live in the database behind their own API and never shadow a
setting silently.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from notewell.kernel.errors import StartupError

ENV_PREFIX = "NOTEWELL_"

PathList = Annotated[list[Path], NoDecode]
NameList = Annotated[list[str], NoDecode]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "notewell"


class _DictSource(PydanticBaseSettingsSource):
    """A settings source over a plain mapping (one table of the config file)."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k in self.settings_cls.model_fields}


class _SourcedSettings(BaseSettings):
    """Base for kernel and plugin settings: env first, then the config-file table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    # set per class by _bind(); the table of the config file this model reads
    config_table: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _DictSource(settings_cls, cls.config_table))


class PluginSettings(_SourcedSettings):
    """Base class for a plugin's settings model (see the ``register_settings`` hook).

    Set ``section`` to the plugin's name; fields are read from
    ``NOTEWELL_<SECTION>__<FIELD>`` and the ``[<section>]`` table of the config file.
    """

    section: ClassVar[str] = ""

    @classmethod
    def env_prefix(cls) -> str:
        """Where these settings are in the environment: ``NOTEWELL_<SECTION>__``."""
        return f"{ENV_PREFIX}{cls.section.upper()}__"

    @classmethod
    def from_environment(cls) -> Self:
        """These settings read on their own, from the environment and the config file, as
        ``Settings.plugin(section)`` gives them in the server: for code that runs where
        there is no kernel, such as a heavy step in a worker process."""
        bound: Self = _bind(cls, cls.env_prefix(), load_config_file().get(cls.section, {}))
        return bound


class Settings(_SourcedSettings):
    """The kernel's settings. Each field's description is shown by ``notewell config show``."""

    _plugin_settings: dict[str, PluginSettings] = PrivateAttr(default_factory=dict)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for the SQLite database, the secret key and stored files.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; empty means SQLite in the data folder. "
        "Use postgresql+asyncpg://… to scale out.",
    )
    redis_url: str | None = Field(
        None, description="Redis URL for the event bus, Socket.IO fan-out and rate limits."
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (a Redis URL): heavy steps then go to `notewell worker` "
        "processes; empty means they run in the server's local worker pool.",
    )
    step_queue_timeout: float = Field(
        3600.0,
        gt=0,
        description="Seconds a step may wait for a free worker (a local pool process or "
        "a Celery worker) before it fails with `queue_timeout`; its `timeout:` counts "
        "only from when a worker starts it.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs sessions; empty means one generated once and kept "
        "in the data folder (mode 0600).",
    )
    host: str = Field("127.0.0.1", description="Address `notewell serve` binds.")
    port: int = Field(8080, ge=1, le=65535, description="Port `notewell serve` binds.")
    workers: int = Field(1, ge=1, le=64, description="Server processes for `notewell serve`.")
    public_url: str | None = Field(
        None, description="The URL people reach Notewell at, for links and cookies."
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )
    trusted_proxies: NameList = Field(
        default_factory=list,
        description="Addresses whose X-Forwarded-For header is believed (comma separated).",
    )
    plugins: NameList | None = Field(
        None, description="Only load these installed plugins (comma separated); empty: all."
    )
    disabled_plugins: NameList = Field(
        default_factory=list, description="Installed plugins not to load (comma separated)."
    )
    plugin_dirs: PathList = Field(
        default_factory=list,
        description="Folders of extra plugin modules (os.pathsep or comma separated).",
    )
    pipeline_dirs: PathList = Field(
        default_factory=list, description="Folders of extra pipeline YAML files."
    )
    migrate_on_start: bool = Field(
        True, description="Apply pending database migrations when the server starts."
    )
    worker_pool_size: int = Field(
        0, ge=0, description="Processes in the local worker pool; 0 means one per CPU."
    )
    run_records_flush_s: float = Field(
        0.2,
        gt=0,
        le=60,
        description="Seconds run records may wait in memory before they are written, "
        "in one transaction for all runs of the moment; other processes see a run this late.",
    )
    run_records_backlog: int = Field(
        100_000,
        ge=1_000,
        description="Runs whose records are kept in memory while the database is "
        "unreachable; beyond that, new ones are dropped (and logged).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level logged."
    )
    log_format: Literal["json", "console"] = Field("json", description="Log line format.")
    dev: bool = Field(False, description="Development mode: reload code and pipelines on change.")

    @field_validator("trusted_proxies", "plugins", "disabled_plugins", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("plugin_dirs", "pipeline_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = value.replace(",", os.pathsep).split(os.pathsep)
            return [part.strip() for part in parts if part.strip()]
        return value

    # -- derived values ------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'notewell.db'}"

    @property
    def effective_broker_url(self) -> str | None:
        """The Celery broker. Only an explicit broker turns Celery on: setting Redis for
        the bus must not make heavy steps wait for workers nobody started."""
        return self.broker_url

    def ensure_secret_key(self) -> str:
        """The signing key: the configured one, else one kept in the data folder."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # write a private temp file, then link it into place: of several processes
            # starting at once exactly one key wins and nobody reads a half-written file
            draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process won; use its key
            finally:
                draft.unlink()
        return path.read_text().strip()

    # -- plugin settings -----------------------------------------------------------

    def plugin(self, section: str) -> Any:
        """The validated settings of the plugin whose settings ``section`` this is."""
        try:
            # read from pydantic's slot: ``self._plugin_settings`` goes through
            # BaseModel.__getattr__, ~25 times as slow, and routes ask on every request
            return self.__pydantic_private__["_plugin_settings"][section]  # type: ignore[index]
        except KeyError:
            raise KeyError(f"no settings registered for plugin section {section!r}") from None

    def bind_plugins(self, models: list[type[PluginSettings]]) -> None:
        """Validate every plugin's settings; raise one StartupError listing all problems."""
        problems: list[str] = []
        bound: dict[str, PluginSettings] = {}
        file_data = load_config_file()
        for model in models:
            prefix = model.env_prefix()
            try:
                bound[model.section] = _bind(model, prefix, file_data.get(model.section, {}))
            except ValidationError as exc:
                problems.extend(describe_errors(exc, prefix))
        if problems:
            raise StartupError("Invalid settings:\n  " + "\n  ".join(problems))
        self._plugin_settings = bound

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read the environment and the config file; raise StartupError naming each bad value."""
        file_data = load_config_file()
        kernel_values = {k: v for k, v in file_data.items() if not isinstance(v, dict)}
        try:
            settings: Settings = _bind(cls, ENV_PREFIX, kernel_values, **overrides)
        except ValidationError as exc:
            raise StartupError(
                "Invalid settings:\n  " + "\n  ".join(describe_errors(exc, ENV_PREFIX))
            ) from None
        return settings


def _bind(model: type[Any], prefix: str, file_values: Mapping[str, Any], **init: Any) -> Any:
    bound = type(
        model.__name__,
        (model,),
        {
            "model_config": SettingsConfigDict(env_prefix=prefix),
            "config_table": file_values,
            "__module__": model.__module__,
            "__qualname__": model.__qualname__,
        },
    )
    return bound(**init)


def describe_errors(exc: ValidationError, prefix: str) -> list[str]:
    """One line per invalid value, naming the environment variable a person would set."""
    lines = []
    for error in exc.errors():
        field = "__".join(str(part) for part in error["loc"])
        value = error.get("input")
        shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
        lines.append(f"{prefix}{field.upper()}: {error['msg']}{shown}")
    return lines


def config_file_path() -> Path | None:
    value = os.environ.get(f"{ENV_PREFIX}CONFIG")
    return Path(value) if value else None


def load_config_file() -> dict[str, Any]:
    """The parsed config file, or ``{}`` when none is configured."""
    path = config_file_path()
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise StartupError(f"NOTEWELL_CONFIG: config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise StartupError(f"NOTEWELL_CONFIG: {path} is not valid TOML: {exc}") from None


def describe_sources(settings: BaseSettings) -> list[dict[str, Any]]:
    """Each field's effective value (secrets masked) and where that value came from."""
    cls = type(settings)
    prefix = cls.model_config.get("env_prefix", ENV_PREFIX)
    from_env = EnvSettingsSource(cls)()
    from_file: Mapping[str, Any] = getattr(cls, "config_table", {})
    rows = []
    for name, info in cls.model_fields.items():
        if name in from_env:
            source = f"env {prefix}{name.upper()}"
        elif name in from_file:
            source = f"file {config_file_path()}"
        elif name in settings.model_fields_set:
            source = "argument"
        else:
            source = "default"
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "**********" if value.get_secret_value() else ""
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):
            value = [str(item) for item in value]
        rows.append(
            {"name": name, "value": value, "source": source, "description": info.description or ""}
        )
    return rows
