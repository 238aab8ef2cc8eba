"""The import boundaries of STYLE §1, checked with import-linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_imports_no_plugin_and_plugins_import_no_other_plugin():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is not installed (pip install -e .[dev])"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_building_the_app_loads_no_heavy_library(tmp_path):
    """The start-up budget (docs/performance.md): model runtimes, Celery, the Socket.IO
    and HTTP client stacks and the OIDC libraries load when first used."""
    code = (
        "import sys\n"
        "from notewell.kernel.app import create_app\n"
        "from notewell.kernel.settings import Settings\n"
        f"create_app(Settings.load(data_dir={str(tmp_path)!r}, secret_key='k' * 40))\n"
        "heavy = ('celery', 'onnxruntime', 'llama_cpp', 'torch', 'socketio', 'aiohttp',\n"
        "         'httpx', 'authlib', 'joserfc', 'tokenizers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_importing_the_kernel_builds_nothing_and_reads_no_environment():
    code = (
        "import os, sys\n"
        "os.environ['NOTEWELL_PORT'] = 'not-a-port'\n"
        "import notewell.kernel, notewell.kernel.app, notewell.kernel.hookspecs\n"
        "heavy = [m for m in ('celery', 'onnxruntime', 'llama_cpp', 'torch') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
