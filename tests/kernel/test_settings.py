"""Settings: one precedence order, clear errors, provenance, masked secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from notewell.kernel.errors import StartupError
from notewell.kernel.settings import Settings, describe_sources


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "notewell.toml"
    monkeypatch.setenv("NOTEWELL_CONFIG", str(path))
    return path


def test_environment_beats_config_file_beats_default(config_file, monkeypatch, tmp_path):
    config_file.write_text('port = 9001\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("NOTEWELL_PORT", "9002")
    settings = Settings.load(data_dir=tmp_path)
    assert settings.port == 9002
    assert settings.host == "0.0.0.0"
    sources = {row["name"]: row["source"] for row in describe_sources(settings)}
    assert sources["port"] == "env NOTEWELL_PORT"
    assert sources["host"] == f"file {config_file}"
    assert sources["workers"] == "default"
    assert sources["data_dir"] == "argument"


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("NOTEWELL_WORKERS", "zero")
    with pytest.raises(StartupError) as raised:
        Settings.load()
    assert "NOTEWELL_WORKERS" in str(raised.value)
    assert "zero" in str(raised.value)


def test_every_invalid_value_is_listed_at_once(monkeypatch):
    monkeypatch.setenv("NOTEWELL_WORKERS", "zero")
    monkeypatch.setenv("NOTEWELL_PORT", "99999")
    with pytest.raises(StartupError) as raised:
        Settings.load()
    assert "NOTEWELL_WORKERS" in str(raised.value)
    assert "NOTEWELL_PORT" in str(raised.value)


def test_malformed_config_file_is_one_clear_error(config_file):
    config_file.write_text("port = [unclosed\n")
    with pytest.raises(StartupError, match="not valid TOML"):
        Settings.load()


def test_missing_config_file_is_one_clear_error(config_file):
    with pytest.raises(StartupError, match="does not exist"):
        Settings.load()


def test_lists_are_read_from_comma_separated_variables(monkeypatch):
    monkeypatch.setenv("NOTEWELL_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8")
    assert Settings.load().trusted_proxies == ["10.0.0.1", "10.0.0.0/8"]


def test_generated_secret_key_is_private_and_stable(tmp_path):
    settings = Settings.load(data_dir=tmp_path)
    first = settings.ensure_secret_key()
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert Settings.load(data_dir=tmp_path).ensure_secret_key() == first


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "notewell.kernel.cli", *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=60,
    )


def test_config_show_masks_secrets_and_names_sources(tmp_path):
    result = _cli("config", "show", "--json", env={
        "NOTEWELL_DATA_DIR": str(tmp_path), "NOTEWELL_SECRET_KEY": "super-secret-value",
    })
    assert result.returncode == 0, result.stderr
    assert "super-secret-value" not in result.stdout
    kernel = {row["name"]: row for row in json.loads(result.stdout)["kernel"]}
    assert kernel["secret_key"]["value"] == "**********"
    assert kernel["secret_key"]["source"] == "env NOTEWELL_SECRET_KEY"


def test_cli_reports_bad_settings_in_one_line_without_traceback(tmp_path):
    result = _cli("config", "show", env={"NOTEWELL_PORT": "nope"})
    assert result.returncode == 2
    assert "NOTEWELL_PORT" in result.stderr
    assert "Traceback" not in result.stderr
