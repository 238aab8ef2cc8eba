"""Settings of the rate-limit plugin (``NOTEWELL_RATELIMIT__<NAME>``, ``[ratelimit]``)."""

from __future__ import annotations

from typing import ClassVar

from limits import parse_many
from pydantic import Field, field_validator

from notewell.kernel.settings import PluginSettings


class RateLimitSettings(PluginSettings):
    """Limits per route class, where they are counted, and which routes they apply to."""

    section: ClassVar[str] = "ratelimit"

    storage_url: str | None = Field(
        None,
        description="Redis URL for the counters; empty means the kernel's redis_url, "
        "and in-memory counters when that is empty too.",
    )
    classes: dict[str, str] = Field(
        default_factory=lambda: {
            "default": "300/minute",
            "auth": "20/minute",
            "generation": "60/minute",
        },
        description="Limits by route class, in the `limits` notation "
        "('10/minute;100/hour'); 'default' applies to unclassified routes.",
    )
    routes: dict[str, str] = Field(
        default_factory=lambda: {
            "/api/v1/auth/signin": "auth",
            "/api/v1/auth/signup": "auth",
            "/api/v1/auth/password": "auth",
            "/api/v1/auth/oidc/": "auth",
        },
        description="Route class by path prefix (the longest matching prefix wins).",
    )
    exempt: tuple[str, ...] = Field(
        ("/health", "/ready", "/assets/"),
        description="Path prefixes never limited.",
    )
    redis_retry_seconds: float = Field(
        5.0, gt=0, description="While Redis is unreachable, try it again this often."
    )

    @field_validator("classes")
    @classmethod
    def _limits_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            try:
                parse_many(text)
            except ValueError:
                raise ValueError(
                    f"class {name!r}: {text!r} is not a limit like '10/minute'"
                ) from None
        if "default" not in value:
            raise ValueError("a 'default' class is required")
        return value
