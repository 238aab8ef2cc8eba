"""chat tables: folders, presets, chats, messages, tags, shares, and full-text search

Revision ID: chat0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from notewell.kernel.db import UTCDateTime

revision = "chat0001"
down_revision = None
branch_labels = ("chat",)
depends_on = None

FTS_TABLE = "chat_message_fts"
SEARCH_COLUMN = "search"
SEARCH_INDEX = "ix_chat_message_search"
TSVECTOR_CHARS = 200_000
"""Text past this many characters of one message is not indexed on PostgreSQL (a
tsvector holds at most 1 MB)."""

# SQLite: an external-content FTS5 table over chat_message, kept in step by triggers
# (the pattern of https://sqlite.org/fts5.html#external_content_tables).
_SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        content, content='chat_message', content_rowid='pk',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER chat_message_fts_insert AFTER INSERT ON chat_message BEGIN
        INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.pk, new.content);
    END""",
    f"""CREATE TRIGGER chat_message_fts_delete AFTER DELETE ON chat_message BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content)
        VALUES ('delete', old.pk, old.content);
    END""",
    f"""CREATE TRIGGER chat_message_fts_update AFTER UPDATE OF content ON chat_message
    BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content)
        VALUES ('delete', old.pk, old.content);
        INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.pk, new.content);
    END""",
]

# PostgreSQL: a generated tsvector column (always in step with content) and a GIN index.
_POSTGRES_FTS = [
    f"""ALTER TABLE chat_message ADD COLUMN {SEARCH_COLUMN} tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', left(content, {TSVECTOR_CHARS}))) STORED""",
    f"CREATE INDEX {SEARCH_INDEX} ON chat_message USING GIN ({SEARCH_COLUMN})",
]


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "chat_folder",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("user_id", "name", name="uq_chat_folder_user_name"),
    )
    op.create_table(
        "chat_preset",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("base_model", sa.String(200), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("user_id", "name", name="uq_chat_preset_user_name"),
    )
    _create_chats()
    _create_messages()
    op.create_table(
        "chat_tag",
        sa.Column(
            "chat_id",
            sa.String(26),
            sa.ForeignKey("chat_chat.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_chat_tag_user_name", "chat_tag", ["user_id", "name"])
    op.create_table(
        "chat_share",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column(
            "chat_id",
            sa.String(26),
            sa.ForeignKey("chat_chat.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    statements = _POSTGRES_FTS if op.get_bind().dialect.name == "postgresql" else _SQLITE_FTS
    for statement in statements:
        op.execute(statement)


def _create_chats() -> None:
    op.create_table(
        "chat_chat",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_auto", sa.Boolean(), nullable=False),
        sa.Column("folder_id", sa.String(26), sa.ForeignKey("chat_folder.id", ondelete="SET NULL")),
        sa.Column("preset_id", sa.String(26), sa.ForeignKey("chat_preset.id", ondelete="SET NULL")),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("current_message_id", sa.String(26)),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("activity_id", sa.String(26), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_chat_chat_user_list", "chat_chat", ["user_id", "archived", "activity_id"])
    op.create_index("ix_chat_chat_user_pinned", "chat_chat", ["user_id", "pinned", "activity_id"])
    op.create_index(
        "ix_chat_chat_user_folder", "chat_chat", ["user_id", "folder_id", "activity_id"]
    )


def _create_messages() -> None:
    op.create_table(
        "chat_message",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(26), nullable=False, unique=True),
        sa.Column(
            "chat_id",
            sa.String(26),
            sa.ForeignKey("chat_chat.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("parent_id", sa.String(26), sa.ForeignKey("chat_message.id", ondelete="CASCADE")),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("preset_id", sa.String(26)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.JSON()),
        sa.Column("run_id", sa.String(26)),
        sa.Column("usage", sa.JSON()),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_chat_message_tree", "chat_message", ["chat_id", "parent_id", "id"])
    streaming = sa.text("status = 'streaming'")
    op.create_index(
        "ix_chat_message_streaming",
        "chat_message",
        ["status"],
        sqlite_where=streaming,
        postgresql_where=streaming,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS chat_message_fts_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    for table in ("chat_share", "chat_tag", "chat_message", "chat_chat"):
        op.drop_table(table)
    op.drop_table("chat_preset")
    op.drop_table("chat_folder")
