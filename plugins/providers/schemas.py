"""Request and response models of the providers API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$"
OptionValue = str | int | float | bool


class Strict(BaseModel):
    """Refuses unknown fields, so a typo is an error instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


def _check_url(value: str | None) -> str | None:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/") if value else value


class ConnectionCreate(Strict):
    """A new connection. ``api_key`` is encrypted before it is stored."""

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    type: str = Field(min_length=1, max_length=32)
    base_url: str = Field("", max_length=500, description="Empty: the type's default.")
    api_key: SecretStr | None = Field(None, max_length=4096)
    prefix: str = Field("", max_length=64, description="Put before every model id.")
    models: list[str] = Field(default_factory=list, description="Allow-list; empty: all.")
    enabled: bool = True
    options: dict[str, OptionValue] = Field(default_factory=dict)

    _url = field_validator("base_url")(_check_url)


class ConnectionUpdate(Strict):
    """Changes to a connection; fields left out stay as they are, ``api_key: null`` clears
    the stored key."""

    name: str | None = Field(None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    base_url: str | None = Field(None, max_length=500)
    api_key: SecretStr | None = Field(None, max_length=4096)
    prefix: str | None = Field(None, max_length=64)
    models: list[str] | None = None
    enabled: bool | None = None
    options: dict[str, OptionValue] | None = None

    _url = field_validator("base_url")(_check_url)


class ConnectionRead(BaseModel):
    """A connection as the API shows it: never the key, only whether there is one."""

    id: str
    name: str
    type: str
    base_url: str
    has_api_key: bool
    prefix: str
    models: list[str]
    enabled: bool
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> ConnectionRead:
        return cls(
            id=row.id,
            name=row.name,
            type=row.type,
            base_url=row.base_url,
            has_api_key=bool(row.api_key_encrypted),
            prefix=row.prefix,
            models=list(row.models or []),
            enabled=row.enabled,
            options=dict(row.options or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ConnectionList(BaseModel):
    data: list[ConnectionRead]


class ProviderTypeRead(BaseModel):
    """A kind of connection admins can create."""

    type: str
    label: str
    default_base_url: str | None
    requires_api_key: bool


class ProviderTypeList(BaseModel):
    data: list[ProviderTypeRead]


class ModelRead(BaseModel):
    """One model anyone may be offered, with the connection it comes from."""

    id: str
    name: str
    capabilities: list[str]
    context_length: int | None
    connection: str
    provider: str
    owned_by: str | None


class ListingError(BaseModel):
    """A connection whose model list could not be read (shown to admins)."""

    connection: str
    code: str
    message: str


class ModelList(BaseModel):
    data: list[ModelRead]
    errors: list[ListingError] = Field(default_factory=list)


class ConnectionCheck(BaseModel):
    """The live answer of one connection's upstream, bypassing the cache."""

    ok: bool
    models: list[ModelRead] = Field(default_factory=list)
    error: ListingError | None = None
