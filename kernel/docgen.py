"""Generates docs/plugins.md from the hook specifications' docstrings.

Run ``python -m notewell.kernel.docgen`` after changing a hookspec; a test fails when
the committed file differs from what this prints.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from notewell.kernel import hookspecs

INTRO = """\
# Writing plugins

Every Notewell feature is a plugin: a Python module (or package) with hook
implementations, found through the `notewell.plugins` entry point, listed in
`NOTEWELL_PLUGIN_DIRS`, or passed to `create_app(plugins=[...])` in tests.

```python
from quart import Blueprint
from notewell.kernel import hookimpl, policy

bp = Blueprint("hello", __name__, url_prefix="/api/v1/hello")

@bp.get("")
@policy.public
async def hello():
    return {"hello": "world"}

@hookimpl
def register_routes():
    return bp
```

`notewell plugin new NAME` scaffolds an installable package like this one, with a
passing test that uses the fixtures of `notewell.testing` (`settings`, `plugins`,
`app`, `client`, `bare_app`, `make_app`, `register_plugin`, `database_url`,
`postgres_server_url`, `redis_server`, `redis_url`).

## The rules

- A plugin imports `notewell.kernel` and itself only — never another plugin. Plugins
  cooperate through hooks (a plugin may publish its own with `register_hookspecs`),
  pipeline steps and bus events.
- Every route states who may call it with a decorator from `notewell.kernel.policy`:
  `public`, `signed_in`, `user`, `admin` or `requires("action")`. A route without one
  answers 403 to everyone.
- Errors are raised as `notewell.kernel.errors` classes and rendered as problem+json.
- Settings are a `PluginSettings` subclass (see `register_settings`); never read the
  environment directly.
- Tables are named `<plugin>_<thing>` and created by the plugin's own Alembic branch
  (see `register_migrations`).
- A plugin that fails to import or raises in a hook is isolated: logged with its
  traceback, shown as `failed` by `notewell plugins list` and `GET /api/v1/plugins`,
  and the server keeps serving. Admins can disable and enable plugins at run time
  (`notewell plugins disable NAME`, `PATCH /api/v1/plugins/NAME`): a disabled plugin's
  routes answer 404 and its hooks, steps and socket handlers are skipped, in every
  server process, without a restart.

## Hook shapes

- `register_<things>()` returns a list (or one item); every plugin's results are used.
- `<thing>_from_<source>()` and `permission_allowed()` are *firstresult*: the first
  non-`None` answer wins; the kernel's own default answers last.
- `on_<event>()` is a notification.
- Any hook may return an awaitable; the kernel awaits it.

## Hook reference

"""


def hook_names() -> list[str]:
    """Every hookspec in kernel/hookspecs.py, in file order."""
    specs = [
        (name, obj)
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, "notewell_spec")
    ]
    specs.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return [name for name, _ in specs]


def render() -> str:
    """The whole of docs/plugins.md."""
    sections = [INTRO]
    for name in hook_names():
        function = getattr(hookspecs, name)
        options = function.notewell_spec
        arguments = ", ".join(inspect.signature(function).parameters)
        returns = inspect.signature(function).return_annotation
        kind = "firstresult" if options.get("firstresult") else "all results collected"
        doc = inspect.cleandoc(function.__doc__ or "")
        sections.append(
            f"### `{name}({arguments})`\n\n*Returns* `{returns}` — {kind}.\n\n{doc}\n\n"
        )
    return "".join(sections).rstrip() + "\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/plugins.md")
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
