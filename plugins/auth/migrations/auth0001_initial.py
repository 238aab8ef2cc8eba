"""auth tables: users, sessions, API keys, groups, permissions, audit, sign-in attempts

Revision ID: auth0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from notewell.kernel.db import UTCDateTime

revision = "auth0001"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def _user_fk(nullable: bool = False, index: bool = True) -> sa.Column:
    return sa.Column(
        "user_id", sa.String(26), sa.ForeignKey("auth_user.id", ondelete="CASCADE"),
        nullable=nullable, index=index,
    )


def upgrade() -> None:
    op.create_table(
        "auth_user",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.String(26), primary_key=True),
        _user_fk(),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("address", sa.String(64)),
        sa.Column("user_agent", sa.String(300), nullable=False),
    )
    op.create_table(
        "auth_api_key",
        sa.Column("id", sa.String(26), primary_key=True),
        _user_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
    )
    op.create_table(
        "auth_group",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "auth_group_member",
        sa.Column(
            "group_id", sa.String(26), sa.ForeignKey("auth_group.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.String(26), sa.ForeignKey("auth_user.id", ondelete="CASCADE"),
            primary_key=True, index=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "auth_permission",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("resource_type", sa.String(100), nullable=False),
        sa.Column("resource_id", sa.String(200)),
        _user_fk(nullable=True),
        sa.Column(
            "group_id", sa.String(26), sa.ForeignKey("auth_group.id", ondelete="CASCADE"),
            index=True,
        ),
        sa.Column("allow", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_grantee"),
    )
    op.create_table(
        "auth_audit",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False, index=True),
        sa.Column("actor_id", sa.String(64)),
        sa.Column("subject_id", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "auth_login_attempt",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_auth_login_attempt_email_created", "auth_login_attempt", ["email", "created_at"]
    )
    op.create_index(
        "ix_auth_login_attempt_address_created", "auth_login_attempt", ["address", "created_at"]
    )
    op.create_table(
        "auth_identity",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        _user_fk(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("provider", "subject", name="uq_auth_identity_subject"),
    )


def downgrade() -> None:
    for table in (
        "auth_identity", "auth_login_attempt", "auth_audit", "auth_permission",
        "auth_group_member", "auth_group", "auth_api_key", "auth_session", "auth_user",
    ):
        op.drop_table(table)
