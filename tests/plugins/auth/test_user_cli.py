"""`notewell user create` and `notewell user reset-password`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def notewell(settings, *args, stdin=None):
    env = {**os.environ, "NOTEWELL_DATA_DIR": str(settings.data_dir),
           "NOTEWELL_SECRET_KEY": settings.secret_key.get_secret_value()}
    return subprocess.run([sys.executable, "-m", "notewell.kernel.cli", "user", *args],
                          capture_output=True, text=True, env=env, input=stdin, timeout=120)


async def _signin(app, email, password):
    return await app.test_client().post("/api/v1/auth/signin",
                                        json={"email": email, "password": password})


async def test_operators_create_accounts_and_reset_passwords(make_app, settings, h):
    created = notewell(settings, "create", "--email", "Root@Example.com",
                       "--password", "operator password", "--role", "admin")
    assert created.returncode == 0, created.stderr
    assert "root@example.com (admin)" in created.stdout
    async with make_app() as app:
        signed_in = await _signin(app, "root@example.com", "operator password")
        assert (await signed_in.get_json())["user"]["role"] == "admin"
        token = (await signed_in.get_json())["token"]
    reset = notewell(settings, "reset-password", "root@example.com",
                     stdin="a brand new password\na brand new password\n")
    assert reset.returncode == 0, reset.stderr
    async with make_app() as app:
        stale = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(token))
        await h.problem(stale, 401, "session_revoked")
        await h.problem(await _signin(app, "root@example.com", "operator password"), 401,
                        "invalid_credentials")
        assert (await _signin(app, "root@example.com", "a brand new password")).status_code == 200


def test_cli_refuses_bad_input_with_one_line(settings):
    duplicate = [notewell(settings, "create", "--email", "a@example.com", "--password",
                          "long enough pw") for _ in range(2)][-1]
    assert duplicate.returncode != 0 and "cannot be created" in duplicate.stderr
    weak = notewell(settings, "create", "--email", "b@example.com", "--password", "short")
    assert weak.returncode != 0 and "at least" in weak.stderr
    unknown = notewell(settings, "reset-password", "nobody@example.com", "--password",
                       "long enough pw")
    assert unknown.returncode != 0 and "No account" in unknown.stderr
    for result in (duplicate, weak, unknown):
        assert "Traceback" not in result.stderr
