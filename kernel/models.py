"""The kernel's own tables (feature tables belong to their plugins)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from notewell.kernel.db import Model, UTCDateTime, utcnow


class PluginState(Model):
    """An admin's run-time choice to enable or disable an installed plugin."""

    __tablename__ = "kernel_plugin_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
