"""Generates docs/plugins.md from the hook specifications' docstrings.

Run ``python -m notewell.kernel.docgen`` after changing a hookspec; a test fails when
the committed file differs from what this prints.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

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
`postgres_server_url`, `redis_server`, `redis_url`, and `celery_worker` — a real
`notewell worker` — with `celery_workers`, `celery_broker_url` and `celery_worker_env`),
and `notewell.testing.serving.serve_app(app)`, which serves an app on a real socket in
the test's event loop as `notewell serve` does (for streaming, disconnects, WebSockets).

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


API_INTRO = """\
# HTTP API

Every route, who may call it, and what it does — generated from the app with all
built-in plugins loaded (`python -m notewell.kernel.docgen api`). The machine-readable
OpenAPI document is served at `/openapi.json` and browsable at `/api/docs`.

- Errors are `application/problem+json` (RFC 9457) with `type`, `title`, `status`,
  `detail`, a stable `code` and the `request_id`; a plugin may answer its own routes in
  another error shape (the compatible `/v1` API does, see docs/chat.md).
- Authenticate with the session cookie (browser; send `X-CSRF-Token` on writes) or
  `Authorization: Bearer <session token or API key>`.
- Policies: `public` (anyone), `signed_in` (any account, even awaiting approval),
  `user` (an approved account), `admin`, `requires:<action>` (a granted permission).

| method | path | policy | what |
|---|---|---|---|
"""


def render_api(app: Any) -> str:
    """docs/api.md for ``app``: one row per route."""
    from notewell.kernel.policy import policy_of

    rows = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        policy = policy_of(view)
        doc = inspect.getdoc(view) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rows.append((rule.rule, method, policy.name if policy else "NONE", summary))
    rows.sort()
    lines = [f"| {m} | `{path}` | {policy} | {summary.replace('|', '/')} |"
             for path, m, policy, summary in rows]
    return API_INTRO + "\n".join(lines) + "\n"


def _api_app() -> Any:
    import tempfile

    from notewell.kernel.app import create_app
    from notewell.kernel.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="notewell-docgen-"))
    return create_app(Settings.load(data_dir=data_dir, secret_key="docgen-" * 6,
                                    log_level="ERROR"))


def main() -> None:
    """``python -m notewell.kernel.docgen [api]``: rewrite docs/plugins.md or docs/api.md."""
    if sys.argv[1:2] == ["api"]:
        target, text = Path("docs/api.md"), render_api(_api_app())
    else:
        target, text = Path("docs/plugins.md"), render()
    target.write_text(text)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
