"""kernel tables: pipeline runs, step runs, large values, pipeline versions, runners

Revision ID: k0002
Revises: k0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from notewell.kernel.db import UTCDateTime

revision = "k0002"
down_revision = "k0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kernel_run",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON()),
        sa.Column("error", sa.JSON()),
        sa.Column("traceback", sa.Text()),
        sa.Column("actor_id", sa.String(64)),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("resumed_from", sa.String(26)),
        sa.Column("owner", sa.String(26)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("duration_ms", sa.Float()),
        sa.PrimaryKeyConstraint("id", name="pk_kernel_run"),
        sa.ForeignKeyConstraint(
            ["resumed_from"],
            ["kernel_run.id"],
            ondelete="SET NULL",
            name="fk_kernel_run_resumed_from_kernel_run",
        ),
    )
    op.create_index("ix_kernel_run_pipeline", "kernel_run", ["pipeline"])
    op.create_index("ix_kernel_run_status", "kernel_run", ["status"])
    op.create_index("ix_kernel_run_owner", "kernel_run", ["owner"])
    op.create_index("ix_kernel_run_actor_id_id", "kernel_run", ["actor_id", "id"])

    op.create_table(
        "kernel_step_run",
        sa.Column("run_id", sa.String(26), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("uses", sa.String(100), nullable=False),
        sa.Column("executor", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("duration_ms", sa.Float()),
        sa.Column("inputs", sa.JSON()),
        sa.Column("outputs", sa.JSON()),
        sa.Column("error", sa.JSON()),
        sa.Column("traceback", sa.Text()),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "step_id", name="pk_kernel_step_run"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["kernel_run.id"],
            ondelete="CASCADE",
            name="fk_kernel_step_run_run_id_kernel_run",
        ),
    )

    op.create_table(
        "kernel_run_blob",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("run_id", sa.String(26), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kernel_run_blob"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["kernel_run.id"],
            ondelete="CASCADE",
            name="fk_kernel_run_blob_run_id_kernel_run",
        ),
    )
    op.create_index("ix_kernel_run_blob_run_id", "kernel_run_blob", ["run_id"])

    op.create_table(
        "kernel_pipeline_version",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name="pk_kernel_pipeline_version"),
    )

    op.create_table(
        "kernel_runner",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kernel_runner"),
    )


def downgrade() -> None:
    op.drop_table("kernel_runner")
    op.drop_table("kernel_pipeline_version")
    op.drop_index("ix_kernel_run_blob_run_id", table_name="kernel_run_blob")
    op.drop_table("kernel_run_blob")
    op.drop_table("kernel_step_run")
    for name in ("actor_id_id", "owner", "status", "pipeline"):
        op.drop_index(f"ix_kernel_run_{name}", table_name="kernel_run")
    op.drop_table("kernel_run")
