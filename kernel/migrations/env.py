"""Alembic environment: runs on the connection the kernel hands in (never reads an ini)."""

from __future__ import annotations

from alembic import context

from notewell.kernel.db import Model

config = context.config
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=Model.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
    on_version_apply=config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
