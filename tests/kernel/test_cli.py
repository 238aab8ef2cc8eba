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


def test_serve_answers_logs_json_lines_only_and_stops_cleanly_on_sigterm(tmp_path):
    import signal
    import time
    import urllib.request

    from notewell.testing.services import free_port

    port = free_port()
    env = {**os.environ, "NOTEWELL_DATA_DIR": str(tmp_path), "NOTEWELL_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "notewell.kernel.cli", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    headers = answer.headers
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "never answered"
                time.sleep(0.1)
        assert headers.get("Server") is None  # the server does not advertise itself
        assert headers.get("X-Request-ID")
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    banner = [line for line in lines if line.startswith("Notewell ")]
    assert len(banner) == 1 and f":{port}" in banner[0]
    entries = [json.loads(line) for line in lines if line not in banner]  # all JSON
    assert all("color_message" not in entry for entry in entries)
    assert any(entry["message"] == "Application shutdown complete." for entry in entries)


def test_serve_with_two_workers_answers_from_two_processes_and_stops_them_all(tmp_path):
    import signal
    import time
    import urllib.request

    import psutil

    from notewell.testing.services import free_port

    port = free_port()
    env = {**os.environ, "NOTEWELL_DATA_DIR": str(tmp_path), "NOTEWELL_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "notewell.kernel.cli", "serve", "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "never answered"
                time.sleep(0.2)
        workers = [
            child
            for child in psutil.Process(server.pid).children()
            if "spawn_main" in " ".join(child.cmdline())  # not multiprocessing's tracker
        ]
        assert len(workers) == 2
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
