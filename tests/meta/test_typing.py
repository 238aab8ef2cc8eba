"""mypy --strict on the kernel (STYLE §7).

The folders map onto ``notewell.*`` only through setuptools' editable finder, which
mypy cannot follow; the test lays out a tree of symlinks with the real package names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_kernel_passes_mypy_strict(tmp_path):
    package = tmp_path / "notewell"
    package.mkdir()
    for name in ("kernel", "pipelines"):
        (package / name).symlink_to(ROOT / name)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--follow-imports=silent", "--cache-dir", str(ROOT / ".mypy_cache"),
         "-p", "notewell.kernel"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
