"""The `notewell` CLI: help, version, plugins listing and the plugin scaffold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notewell.kernel import __version__


def notewell(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "notewell.kernel.cli", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120,
    )


def test_version_and_help(tmp_path):
    assert notewell("version").stdout.strip() == __version__
    result = notewell("--help")
    for command in ("serve", "config", "plugins", "plugin"):
        assert command in result.stdout
    assert "--port" in notewell("serve", "--help").stdout


def test_plugins_list_shows_state_and_switches_persist(tmp_path):
    env = {"NOTEWELL_DATA_DIR": str(tmp_path)}
    listed = json.loads(notewell("plugins", "list", "--json", env=env).stdout)
    assert {"name": "health", "state": "enabled", "source": "default"}.items() <= next(
        row for row in listed if row["name"] == "health"
    ).items()
    refused = notewell("plugins", "disable", "health", env=env)
    assert refused.returncode != 0
    assert "cannot be disabled" in refused.stderr
    unknown = notewell("plugins", "enable", "no_such_plugin", env=env)
    assert unknown.returncode != 0
    assert "No plugin named" in unknown.stderr


def test_unreachable_database_is_one_clear_line(tmp_path):
    result = notewell("plugins", "list", env={
        "NOTEWELL_DATA_DIR": str(tmp_path),
        "NOTEWELL_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    })
    assert result.returncode == 2
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_scaffolded_plugin_passes_its_own_test(tmp_path):
    created = notewell("plugin", "new", "demo_thing", "-d", str(tmp_path))
    assert created.returncode == 0, created.stderr
    package = tmp_path / "notewell-demo-thing"
    pyproject = (package / "pyproject.toml").read_text()
    assert pyproject.count('demo_thing = "notewell_demo_thing.hooks"') == 1
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        capture_output=True, text=True, cwd=package, timeout=120,
        env={**os.environ, "PYTHONPATH": str(package)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path):
    bad = notewell("plugin", "new", "Bad-Name", "-d", str(tmp_path))
    assert "not a valid plugin name" in bad.stderr
    notewell("plugin", "new", "twice", "-d", str(tmp_path))
    assert "already exists" in notewell("plugin", "new", "twice", "-d", str(tmp_path)).stderr


def test_serve_with_unreachable_database_is_one_line_and_exit_2(tmp_path):
    result = notewell("serve", "--port", "1", env={
        "NOTEWELL_DATA_DIR": str(tmp_path),
        "NOTEWELL_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    })
    assert result.returncode == 2
    assert "NOTEWELL_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
