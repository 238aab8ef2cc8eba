"""The auth branch applies and reverts on its own, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

TABLES = {"auth_user", "auth_session", "auth_api_key", "auth_group", "auth_group_member",
          "auth_permission", "auth_audit", "auth_login_attempt", "auth_identity"}


async def _tables(app) -> set[str]:
    async with app.kernel.db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_auth_branch_downgrades_and_upgrades(make_app, database_url):
    async with make_app(database_url=database_url) as app:
        assert await _tables(app) >= TABLES
        migrator = app.kernel.migrator()
        reverted = await migrator.downgrade("auth@base")
        assert [step.branch for step in reverted] == ["auth"]
        assert not TABLES & await _tables(app)
        assert "kernel_plugin_state" in await _tables(app)
        await migrator.upgrade()
        assert await _tables(app) >= TABLES


async def test_models_match_the_migration(make_app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from notewell.kernel.db import Model
    from notewell.plugins.auth import models

    async with make_app() as app, app.kernel.db.engine.connect() as connection:
        def diff(sync_connection):
            context = MigrationContext.configure(sync_connection)
            return [change for change in compare_metadata(context, Model.metadata)
                    if "'auth_" in repr(change)]

        assert models.User.__tablename__ == "auth_user"
        assert await connection.run_sync(diff) == []

