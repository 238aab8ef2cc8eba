"""kernel tables: plugin state

Revision ID: k0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from notewell.kernel.db import UTCDateTime

revision = "k0001"
down_revision = None
branch_labels = ("kernel",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kernel_plugin_state",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(64)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kernel_plugin_state"),
    )


def downgrade() -> None:
    op.drop_table("kernel_plugin_state")
