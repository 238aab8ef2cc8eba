"""``notewell plugin new NAME``: an installable plugin package that passes its own test."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "notewell-{dist}"
version = "0.1.0"
description = "A Notewell plugin: {name}"
requires-python = ">=3.11"
dependencies = ["notewell"]

[project.entry-points."notewell.plugins"]
{name} = "notewell_{name}.hooks"

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
'''

HOOKS = '''\
"""Hook implementations of the {name} plugin: its face to the kernel."""

from __future__ import annotations

from quart import Blueprint

from notewell.kernel import hookimpl, policy

bp = Blueprint("{name}", __name__, url_prefix="/api/v1/{name}")


@bp.get("/hello")
@policy.public
async def hello() -> dict[str, str]:
    """Say hello; replace with the plugin's real routes."""
    return {{"hello": "{name}"}}


@hookimpl
def register_routes() -> Blueprint:
    return bp
'''

TEST = '''\
"""The {name} plugin, tested with the fixtures notewell.testing provides."""

from __future__ import annotations

import pytest

from notewell_{name} import hooks


@pytest.fixture
def plugins():
    return [hooks]


async def test_hello_route_answers(client):
    response = await client.get("/api/v1/{name}/hello")
    assert response.status_code == 200
    assert (await response.get_json()) == {{"hello": "{name}"}}

'''

README = '''\
# notewell-{dist}

A Notewell plugin. Install it next to Notewell (`pip install -e .`) and it is found
through the `notewell.plugins` entry point; `notewell plugins list` shows it.

- `notewell_{name}/hooks.py` — hook implementations (see docs/plugins.md of Notewell).
- `tests/` — run with `pytest`; fixtures (`app`, `client`, `settings`, …) come from
  `notewell.testing`.
'''


def scaffold_plugin(name: str, directory: Path) -> Path:
    """Create ``notewell-<name>/`` under ``directory``; refuse to overwrite anything."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(
            f"{name!r} is not a valid plugin name: use lowercase letters, digits and "
            "underscores, starting with a letter (2 to 40 characters)"
        )
    dist = name.replace("_", "-")
    target = directory / f"notewell-{dist}"
    if target.exists():
        raise ValueError(f"{target} already exists; choose another name or folder")
    package = target / f"notewell_{name}"
    (target / "tests").mkdir(parents=True)
    package.mkdir()
    files = {
        target / "pyproject.toml": PYPROJECT,
        target / "README.md": README,
        package / "__init__.py": '"""The {name} Notewell plugin."""\n\n__version__ = "0.1.0"\n',
        package / "hooks.py": HOOKS,
        target / "tests" / "test_plugin.py": TEST,
    }
    for path, template in files.items():
        path.write_text(template.format(name=name, dist=dist))
    return target
