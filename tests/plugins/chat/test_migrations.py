"""The chat branch applies and reverts on its own, on SQLite and PostgreSQL, and the
tables match the models (the search index aside, which lives in the migration)."""

from __future__ import annotations

from sqlalchemy import inspect

TABLES = {"chat_folder", "chat_preset", "chat_chat", "chat_message", "chat_tag", "chat_share"}


async def _tables(app) -> set[str]:
    async with app.kernel.db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_chat_branch_downgrades_and_upgrades(make_app, database_url):
    async with make_app(database_url=database_url) as app:
        assert await _tables(app) >= TABLES
        migrator = app.kernel.migrator()
        reverted = await migrator.downgrade("chat@base")
        assert [step.branch for step in reverted] == ["chat"]
        left = await _tables(app)
        assert not {t for t in left if t.startswith("chat_")}
        assert "kernel_run" in left
        await migrator.upgrade()
        assert await _tables(app) >= TABLES


async def test_models_match_the_migration(make_app, database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from notewell.kernel.db import Model
    from notewell.plugins.chat import models  # noqa: F401 - registers the tables

    def ours(change) -> bool:
        text = repr(change)
        return (
            "'chat_" in text
            and "chat_message_fts" not in text
            and "'search'" not in text
            and "ix_chat_message_search" not in text
        )

    async with (
        make_app(database_url=database_url) as app,
        app.kernel.db.engine.connect() as connection,
    ):

        def diff(sync_connection):
            context = MigrationContext.configure(sync_connection)
            return [c for c in compare_metadata(context, Model.metadata) if ours(c)]

        assert await connection.run_sync(diff) == []
