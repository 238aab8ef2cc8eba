"""The chat plugin's tables, named ``chat_<thing>``.

``user_id`` columns hold the owner's actor id without a foreign key: plugins do not
depend on each other's tables, and ``on_user_deleted`` removes a user's rows.

Full-text search lives outside these models, in the migration: an FTS5 table kept in
step by triggers on SQLite, a generated ``tsvector`` column with a GIN index on
PostgreSQL. Both follow every write to ``chat_message.content`` inside the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from notewell.kernel.db import Model, UTCDateTime, utcnow
from notewell.kernel.ids import new_id

ROLES = ("system", "user", "assistant")
MESSAGE_STATUSES = ("complete", "streaming", "stopped", "incomplete", "failed")
"""``streaming`` while generated; ``stopped`` by the user, ``incomplete`` when the upstream
or the server gave out part-way (the partial text is kept), ``failed`` with nothing."""


class Folder(Model):
    """A user's folder of chats (flat)."""

    __tablename__ = "chat_folder"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_chat_folder_user_name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Preset(Model):
    """A named model setup: a base model with a system prompt and parameters."""

    __tablename__ = "chat_preset"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_chat_preset_user_name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    base_model: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Chat(Model):
    """A conversation. ``current_message_id`` is the leaf of the branch on show.

    ``activity_id`` is a time-ordered id renewed on every change: lists sort on it
    (most recent first) and use it as their cursor, through the indexes below.
    """

    __tablename__ = "chat_chat"
    __table_args__ = (
        Index("ix_chat_chat_user_list", "user_id", "archived", "activity_id"),
        Index("ix_chat_chat_user_pinned", "user_id", "pinned", "activity_id"),
        Index("ix_chat_chat_user_folder", "user_id", "folder_id", "activity_id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    title_auto: Mapped[bool] = mapped_column(Boolean, default=True)
    folder_id: Mapped[str | None] = mapped_column(ForeignKey("chat_folder.id", ondelete="SET NULL"))
    preset_id: Mapped[str | None] = mapped_column(ForeignKey("chat_preset.id", ondelete="SET NULL"))
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_message_id: Mapped[str | None] = mapped_column(String(26))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    activity_id: Mapped[str] = mapped_column(String(26), default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Model):
    """One message of a chat's tree; siblings share ``parent_id`` (``None``: a root).

    ``pk`` is an integer key that never changes (SQLite's ``VACUUM`` may renumber the
    implicit rowid of a table keyed by text), so that the full-text index can point
    at it; everything else uses ``id``.
    """

    __tablename__ = "chat_message"
    __table_args__ = (
        Index("ix_chat_message_tree", "chat_id", "parent_id", "id"),
        Index(
            "ix_chat_message_streaming",
            "status",
            sqlite_where=text("status = 'streaming'"),
            postgresql_where=text("status = 'streaming'"),
        ),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(26), unique=True, default=new_id)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chat_chat.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("chat_message.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200))
    preset_id: Mapped[str | None] = mapped_column(String(26))
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(String(26))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Tag(Model):
    """A tag on a chat; a user's tags are the distinct names over their chats."""

    __tablename__ = "chat_tag"
    __table_args__ = (Index("ix_chat_tag_user_name", "user_id", "name"),)

    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chat_chat.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))


class Share(Model):
    """A read-only snapshot of a chat's branch, readable by anyone with the token."""

    __tablename__ = "chat_share"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chat_chat.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
