"""Settings of the auth plugin (``NOTEWELL_AUTH__<NAME>``, ``[auth]`` in the config file)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr

from notewell.kernel.settings import PluginSettings


class OIDCProvider(BaseModel):
    """One OpenID Connect provider people may sign in with."""

    issuer: str = Field(description="Issuer URL; discovery is read from it.")
    client_id: str
    client_secret: SecretStr
    label: str = Field("", description="Button text; defaults to the provider's name.")
    scopes: str = "openid email profile"
    allow_signup: bool = Field(
        True, description="Create accounts for new people (when sign-up is enabled)."
    )


class AuthSettings(PluginSettings):
    """Accounts, sessions, keys and sign-in protection."""

    section: ClassVar[str] = "auth"

    signup_enabled: bool = Field(True, description="Whether people may create accounts.")
    default_role: Literal["user", "pending"] = Field(
        "pending",
        validation_alias=AliasChoices(
            "NOTEWELL_AUTH__DEFAULT_ROLE", "NOTEWELL_DEFAULT_ROLE", "default_role"
        ),
        description="Role of new accounts after the first (which becomes admin).",
    )
    password_min_length: int = Field(8, ge=8, le=128, description="Shortest password accepted.")
    session_lifetime_hours: int = Field(
        24 * 14, ge=1, description="How long a session lasts before signing in again."
    )
    api_keys_enabled: bool = Field(True, description="Whether users may create and use API keys.")
    key_touch_seconds: int = Field(
        60, ge=1, description="At most one last_used_at write per key in this many seconds."
    )
    lockout_threshold: int = Field(
        5, ge=1, description="Failed sign-ins for one account before it is locked."
    )
    address_threshold: int = Field(
        20, ge=1, description="Failed sign-ins from one address before it is locked."
    )
    lockout_minutes: int = Field(
        15, ge=1, description="Window for counting failures and length of a lockout."
    )
    default_deny: list[str] = Field(
        default_factory=list,
        description="Actions or resource types non-admins may use only with a grant.",
    )
    actor_cache_seconds: int = Field(
        60, ge=0, description="How long a resolved session or key is kept in memory."
    )
    oidc: dict[str, OIDCProvider] = Field(
        default_factory=dict, description="OpenID Connect providers by name."
    )
    # Argon2id cost (RFC 9106 second recommended option); lower only in tests.
    password_time_cost: int = Field(3, ge=1)
    password_memory_cost: int = Field(65536, ge=8, description="KiB.")
    password_parallelism: int = Field(4, ge=1)
