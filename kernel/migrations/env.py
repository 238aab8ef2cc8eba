"""Alembic environment: runs on the connection the kernel hands in (never reads an ini).

``notewell.kernel.migrate.Migrator`` opens the connection and the one transaction all
revisions run in, so ``begin_transaction()`` below joins it instead of committing.
Run migrations with ``notewell migrate``, not with the ``alembic`` command.
"""

from __future__ import annotations

from alembic import context

from notewell.kernel.db import Model

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Notewell's migrations run through `notewell migrate`, not `alembic`")

context.configure(
    connection=connection,
    target_metadata=Model.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=False,
    on_version_apply=config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
