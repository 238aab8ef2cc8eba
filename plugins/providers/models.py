"""The providers plugin's tables, named ``providers_<thing>``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notewell.kernel.db import Model, UTCDateTime, utcnow
from notewell.kernel.ids import new_id


class Connection(Model):
    """An admin-managed connection to an upstream; the API key is stored encrypted."""

    __tablename__ = "providers_connection"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500), default="")
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(64), default="")
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
