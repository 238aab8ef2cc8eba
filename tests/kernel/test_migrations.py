"""Migrations: one Alembic branch per owner, all-or-nothing, under a lock, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from quart.testing.app import LifespanError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from notewell.kernel import hookimpl
from notewell.kernel.app import create_app
from notewell.kernel.db import Database
from notewell.kernel.migrate import MigrationError, Migrator, Step

NOTEWELL = str(Path(sys.executable).with_name("notewell"))

WIDGET_UP = """
op.create_table(
    "probe_widget",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
)
op.execute(sa.text("INSERT INTO probe_widget (id, name) VALUES (1, 'first')"))
"""
GADGET_UP = """
op.create_table(
    "probe_gadget",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("widget_id", sa.Integer, sa.ForeignKey("probe_widget.id"), nullable=False),
)
"""
# a failing revision that first changes a lot: a new table, a rebuilt table (the
# copy-and-move way on SQLite), a new column and a row in a kernel table
FAILING_UP = """
op.create_table("probe_doomed", sa.Column("id", sa.Integer, primary_key=True))
with op.batch_alter_table("probe_widget", recreate="always") as batch:
    batch.alter_column("name", new_column_name="title", existing_type=sa.String(40))
with op.batch_alter_table("kernel_plugin_state") as batch:
    batch.add_column(sa.Column("note", sa.String(20)))
op.execute(sa.text(
    "INSERT INTO kernel_plugin_state (name, enabled, updated_at) "
    "VALUES ('probe', true, CURRENT_TIMESTAMP)"
))
raise RuntimeError("deliberate failure")
"""


def write_revision(
    folder: Path,
    revision: str,
    down: str | None,
    *,
    upgrade: str,
    downgrade: str = "pass",
    doc: str | None = None,
    label: str = "probe",
) -> None:
    """Write one Alembic revision file; the first of a branch gets the branch label."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = (label,) if down is None else None
    source = (
        f'"""{doc or "probe " + revision}"""\n\n'
        "import time  # noqa: F401  (slow revisions sleep)\n\n"
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {down!r}\n"
        f"branch_labels = {labels!r}\ndepends_on = None\n\n\n"
        f"def upgrade():\n{textwrap.indent(upgrade.strip(), '    ')}\n\n\n"
        f"def downgrade():\n{textwrap.indent(downgrade.strip(), '    ')}\n"
    )
    (folder / f"{revision}.py").write_text(source)


def probe_revisions(folder: Path, *, failing: bool = False, slow_s: float = 0) -> Path:
    """The probe plugin's branch: p0001 widgets, p0002 gadgets, and maybe a failing p0003."""
    widget_up = (f"time.sleep({slow_s})\n" if slow_s else "") + WIDGET_UP
    write_revision(folder, "p0001", None, upgrade=widget_up,
                   downgrade='op.drop_table("probe_widget")', doc="probe: widgets")  # fmt: skip
    write_revision(folder, "p0002", "p0001", upgrade=GADGET_UP,
                   downgrade='op.drop_table("probe_gadget")', doc="probe: gadgets")  # fmt: skip
    if failing:
        write_revision(folder, "p0003", "p0002", upgrade=FAILING_UP, doc="probe: doomed")
    return folder


class MigrationsPlugin:
    """A plugin object that only hands in migration folders."""

    def __init__(self, *folders: Path) -> None:
        self.folders = list(folders)

    @hookimpl
    def register_migrations(self) -> list[Path]:
        return self.folders


def _schema(connection: Connection) -> dict[str, Any]:
    found = inspect(connection)
    tables = {
        name: sorted(column["name"] for column in found.get_columns(name))
        for name in found.get_table_names()
    }
    rows = {
        name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in tables
    }
    versions = []
    if "alembic_version" in tables:
        versions = sorted(
            connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
    return {"tables": tables, "rows": rows, "versions": versions}


async def schema_of(db: Database) -> dict[str, Any]:
    """Tables with their columns, row counts, and the recorded revisions."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_schema)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def kernel_heads(db: Database) -> list[str]:
    migrator = Migrator(db)
    return [rev for rev in migrator.script.get_heads() if migrator.branches[rev] == "kernel"]


# -- upgrade and downgrade, on SQLite and PostgreSQL -------------------------------------


async def test_upgrade_applies_kernel_and_plugin_branches(db, tmp_path, kernel_heads):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    applied = await migrator.upgrade()

    schema = await schema_of(db)
    assert {"kernel_plugin_state", "probe_widget", "probe_gadget"} <= set(schema["tables"])
    assert schema["versions"] == sorted([*kernel_heads, "p0002"])
    assert {step.branch for step in applied} == {"kernel", "probe"}
    assert (await migrator.status()).pending == []


async def test_each_applied_revision_is_reported_in_order(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    seen: list[Step] = []
    applied = await migrator.upgrade("probe@head", on_step=seen.append)

    assert seen == applied
    assert seen == [
        Step("p0001", "probe", "probe: widgets"),
        Step("p0002", "probe", "probe: gadgets"),
    ]


async def test_kernel_branch_is_applied_before_plugin_branches(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    pending = [step.branch for step in (await migrator.status()).pending]
    applied = [step.branch for step in await migrator.upgrade()]

    assert applied == pending
    assert applied == sorted(applied, key=lambda branch: branch != "kernel")
    assert applied[0] == "kernel"


async def test_status_shows_current_and_pending_per_branch(db, tmp_path, kernel_heads):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade("kernel@head")

    status = {branch.branch: branch for branch in (await migrator.status()).branches}
    assert status["kernel"].current == kernel_heads
    assert status["kernel"].pending == []
    assert status["probe"].current == []
    assert status["probe"].heads == ["p0002"]
    assert [step.revision for step in status["probe"].pending] == ["p0001", "p0002"]


async def test_downgrade_of_one_branch_leaves_the_others(db, tmp_path, kernel_heads):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade()
    reverted = await migrator.downgrade("probe@base")

    schema = await schema_of(db)
    assert [step.revision for step in reverted] == ["p0002", "p0001"]
    assert "probe_widget" not in schema["tables"]
    assert "kernel_plugin_state" in schema["tables"]
    assert schema["versions"] == sorted(kernel_heads)


async def test_downgrade_to_a_revision_keeps_what_came_before_it(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade()
    await migrator.downgrade("p0001")

    schema = await schema_of(db)
    assert "probe_gadget" not in schema["tables"]
    assert schema["rows"]["probe_widget"] == 1
    assert "p0001" in schema["versions"]


async def test_downgrade_to_base_removes_every_table(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade()
    await migrator.downgrade("base")

    schema = await schema_of(db)
    assert set(schema["tables"]) == {"alembic_version"}
    assert schema["versions"] == []


async def test_upgrade_again_finds_nothing_to_do(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade()

    assert await migrator.upgrade() == []


# -- failures change nothing ----------------------------------------------------------


async def test_failing_migration_leaves_the_schema_as_it_was(db, tmp_path):
    folder = probe_revisions(tmp_path / "probe")
    await Migrator(db, [folder]).upgrade()
    before = await schema_of(db)
    probe_revisions(folder, failing=True)

    with pytest.raises(MigrationError) as caught:
        await Migrator(db, [folder]).upgrade()

    assert caught.value.step == Step("p0003", "probe", "probe: doomed")
    assert await schema_of(db) == before


async def test_failing_migration_rolls_back_revisions_applied_before_it(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe", failing=True)])
    seen: list[Step] = []

    with pytest.raises(MigrationError):
        await migrator.upgrade(on_step=seen.append)

    assert any(step.revision == "p0002" for step in seen)  # it ran, then was rolled back
    schema = await schema_of(db)
    assert not {"probe_widget", "probe_gadget", "kernel_plugin_state"} & set(schema["tables"])
    assert schema["versions"] == []


async def test_unknown_target_is_a_migration_error(db, tmp_path):
    migrator = Migrator(db, [probe_revisions(tmp_path / "probe")])
    await migrator.upgrade()
    before = await schema_of(db)

    with pytest.raises(MigrationError):
        await migrator.downgrade("nosuchrevision")
    assert await schema_of(db) == before


async def test_revisions_of_a_plugin_no_longer_loaded_are_left_alone(db, tmp_path, kernel_heads):
    await Migrator(db, [probe_revisions(tmp_path / "probe")]).upgrade()
    without_probe = Migrator(db)

    assert await without_probe.upgrade() == []
    status = await without_probe.status()
    assert status.unknown == ["p0002"]
    assert status.pending == []
    assert (await schema_of(db))["versions"] == sorted([*kernel_heads, "p0002"])


def test_missing_migration_folder_is_a_migration_error(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(MigrationError, match="do not exist"):
        Migrator(database, [tmp_path / "nope"])


def test_broken_revision_file_is_a_migration_error(tmp_path):
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "p0001.py").write_text("revision = 'p0001'\ndown_revision = None\ndef (:\n")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(MigrationError, match="SyntaxError"):
        Migrator(database, [folder])


def test_revision_id_used_twice_is_a_migration_error(tmp_path):
    first = probe_revisions(tmp_path / "probe")
    second = tmp_path / "copycat"
    write_revision(second, "p0001", None, upgrade="pass", label="copycat")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(MigrationError, match="p0001"):
        Migrator(database, [first, second])


# -- migrate on start ---------------------------------------------------------------------


async def test_app_start_applies_pending_migrations(settings, database_url, tmp_path):
    plugin = MigrationsPlugin(probe_revisions(tmp_path / "probe"))
    app = create_app(settings.model_copy(update={"database_url": database_url, "plugins": []}),
                     plugins=[plugin])  # fmt: skip
    async with app.test_app():
        assert "probe_gadget" in (await schema_of(app.kernel.db))["tables"]


async def test_app_start_stops_loudly_on_a_failing_migration(settings, database_url, tmp_path):
    plugin = MigrationsPlugin(probe_revisions(tmp_path / "probe", failing=True))
    app = create_app(settings.model_copy(update={"database_url": database_url, "plugins": []}),
                     plugins=[plugin])  # fmt: skip
    try:
        with pytest.raises(LifespanError, match="p0003"):
            async with app.test_app():
                pytest.fail("the app must not start serving")
        schema = await schema_of(app.kernel.db)
    finally:
        await app.kernel.db.dispose()
    assert "probe_widget" not in schema["tables"]
    assert schema["versions"] == []


# -- the CLI and several processes -------------------------------------------------------


def plugin_folder(tmp_path: Path, **revisions: Any) -> Path:
    """A NOTEWELL_PLUGIN_DIRS folder holding the `probe` plugin with its migrations."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    probe_revisions(folder / "probe_migrations", **revisions)
    (folder / "probe.py").write_text(
        "from pathlib import Path\n\nfrom notewell.kernel import hookimpl\n\n\n"
        "@hookimpl\ndef register_migrations():\n"
        "    return Path(__file__).parent / 'probe_migrations'\n"
    )
    return folder


def notewell_env(tmp_path: Path, database_url: str, plugins: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEWELL_")}
    env.update(
        NOTEWELL_DATA_DIR=str(tmp_path / "data"),
        NOTEWELL_DATABASE_URL=database_url,
        NOTEWELL_SECRET_KEY="test-secret-key-not-for-production",
        NOTEWELL_LOG_LEVEL="WARNING",
        NOTEWELL_PLUGINS="probe" if plugins else "",
        NOTEWELL_PLUGIN_DIRS=str(plugins or ""),
        TERM="dumb",
    )
    return env


def notewell(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NOTEWELL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.integration
def test_cli_migrate_prints_one_plain_line_per_revision(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = notewell_env(tmp_path, url, plugin_folder(tmp_path))

    result = notewell(env, "migrate")

    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout  # no terminal: no escape codes
    lines = [line.split(maxsplit=3) for line in result.stdout.splitlines() if "probe" in line]
    assert [line[1:] for line in lines] == [
        ["probe", "p0001", "probe: widgets"],
        ["probe", "p0002", "probe: gadgets"],
    ]
    again = notewell(env, "migrate")
    assert again.returncode == 0
    assert "Nothing to upgrade" in again.stdout


@pytest.mark.integration
def test_cli_migrate_status_and_downgrade(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = notewell_env(tmp_path, url, plugin_folder(tmp_path))
    assert notewell(env, "migrate", "upgrade", "kernel@head").returncode == 0

    pending = notewell(env, "migrate", "status", "--json", "--check")
    downgrade = notewell(env, "migrate", "downgrade", "kernel@base", "--yes")
    after = json.loads(notewell(env, "migrate", "status", "--json").stdout)

    assert pending.returncode == 1  # --check: something is pending
    branches = {b["branch"]: b for b in json.loads(pending.stdout)["branches"]}
    assert branches["kernel"]["current"] == branches["kernel"]["heads"]
    assert [step["revision"] for step in branches["probe"]["pending"]] == ["p0001", "p0002"]
    assert downgrade.returncode == 0, downgrade.stderr
    assert all(branch["current"] == [] for branch in after["branches"])


@pytest.mark.integration
def test_cli_migrate_failure_exits_1_and_changes_nothing(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = notewell_env(tmp_path, url, plugin_folder(tmp_path, failing=True))

    result = notewell(env, "migrate")
    status = json.loads(notewell(env, "migrate", "status", "--json").stdout)

    assert result.returncode == 1
    assert "p0003" in result.stderr
    assert "Traceback" not in result.stderr
    assert all(branch["current"] == [] for branch in status["branches"])


@pytest.mark.integration
def test_cli_migrate_unreachable_database_is_one_line_and_exit_2(tmp_path):
    from notewell.testing.services import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere"
    result = notewell(notewell_env(tmp_path, url, None), "migrate")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "NOTEWELL_DATABASE_URL" in result.stderr


@pytest.mark.integration
async def test_concurrent_migrate_applies_each_revision_once(db, database_url, tmp_path):
    env = notewell_env(tmp_path, database_url, plugin_folder(tmp_path, slow_s=1.5))

    async def migrate() -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            NOTEWELL, "migrate", env=env, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        return process.returncode or 0, out.decode(), err.decode()

    results = await asyncio.gather(migrate(), migrate(), migrate())

    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    # one process applied the revisions; the others waited, then found nothing to do
    assert sum("p0001" in out for _, out, _ in results) == 1
    schema = await schema_of(db)
    migrator = Migrator(db, [tmp_path / "plugins" / "probe_migrations"])
    assert schema["versions"] == sorted(migrator.script.get_heads())
    assert schema["rows"]["probe_widget"] == 1
