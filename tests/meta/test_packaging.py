"""The wheel carries what a regular install needs: kernel, plugins, pipelines, web app."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_pipelines_migrations_and_frontend(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    wheel = next(tmp_path.glob("notewell-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "notewell/kernel/app.py" in names
    assert "notewell/kernel/migrations/versions/k0001_kernel.py" in names
    assert "notewell/testing/__init__.py" in names
    shipped = sorted(p.name for p in (ROOT / "pipelines").glob("*.yaml"))
    assert shipped, "no pipelines/*.yaml to ship"
    for name in shipped:
        assert f"notewell/pipelines/{name}" in names
    built = ROOT / "kernel" / "static" / "app" / "index.html"
    assert built.exists(), "frontend not built (scripts/build-frontend.sh)"
    assert "notewell/kernel/static/app/index.html" in names
    assert any(n.startswith("notewell/kernel/static/app/assets/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "notewell = notewell.kernel.cli:main" in text
    assert "[pytest11]" in text
