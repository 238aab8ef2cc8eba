"""Serves the built web UI (``frontend/``, built into ``kernel/static/app``) at ``/``.

- ``/assets/…``: Vite's content-hashed files, cached for a year (``immutable``).
- ``/`` and every other GET path the server does not answer itself, when a browser asks
  for a page (``Accept: text/html``): ``index.html`` (revalidated on every load), so the
  app's own router handles deep links. The server's own prefixes (``/api``, ``/v1``,
  ``/socket.io``, ``/health``, ``/ready``, ``/openapi.json``) never fall back, and
  neither does a request that does not ask for HTML: an unknown path stays a
  problem+json 404 for API clients.
- Without a build, ``/`` answers a short page that says how to make one.
- The API reference at ``/api/docs`` (quart-schema's Swagger UI) loads Swagger UI from
  the build (``assets/swagger-ui-<version>/``, copied from the ``swagger-ui-dist``
  package by the Vite build), so it works offline; without a build quart-schema keeps
  its CDN defaults.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from quart import Blueprint, Response, request, send_from_directory
from quart.blueprints import BlueprintSetupState
from quart_schema import hide
from werkzeug.routing import PathConverter

from notewell.kernel import policy
from notewell.kernel.errors import NotFound
from notewell.kernel.hookspecs import hookimpl

if TYPE_CHECKING:
    from notewell.kernel.app import NotewellApp

BUILD_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
"""Where ``vite build`` writes (read at request time, so tests may point it elsewhere)."""

SWAGGER_UI_BUNDLE = "assets/swagger-ui-*/swagger-ui-bundle.js"
"""Where the build keeps Swagger UI (one version per build)."""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ROOT_FILE_CACHE = "public, max-age=3600"

BUILD_HINT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notewell</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
padding: 0 1rem; line-height: 1.5">
<h1>Notewell is running, but its web UI is not built</h1>
<p>The API works (see <a href="/api/docs">/api/docs</a>). To get the browser UI, build it
once from the source checkout (needs Node.js 20.19+ and npm):</p>
<pre>scripts/build-frontend.sh</pre>
<p>then reload this page. The README's run command does this for you.</p>
</body></html>
"""


class AppPathConverter(PathConverter):
    """A path the web app may own: anything outside the server's own prefixes."""

    regex = r"(?!(?:api|v1|socket\.io|health|ready|openapi\.json)(?:/|$))[^/].*?"


bp = Blueprint("frontend", __name__)


def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("app_path", AppPathConverter)


# recorded before the routes below, so it runs before their rules are added
bp.record_once(_add_converter)


def _security_headers(response: Response, csp: str | None = None) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if csp:
        response.headers["Content-Security-Policy"] = csp
    return response


@lru_cache(maxsize=4)
def _index(path: Path, mtime_ns: int) -> tuple[bytes, str]:
    """index.html and a Content-Security-Policy that allows exactly its inline scripts."""
    html = path.read_bytes()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in re.findall(rb"<script>(.*?)</script>", html, re.S)
    )
    csp = (
        "default-src 'self'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; "  # KaTeX sizes formulas with inline styles
        "img-src 'self' data: blob: https:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    return html, csp


def _app_page() -> Response:
    index = BUILD_DIR / "index.html"
    if not index.is_file():
        response = Response(BUILD_HINT, status=503, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        return _security_headers(response)
    html, csp = _index(index, index.stat().st_mtime_ns)
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = REVALIDATE
    return _security_headers(response, csp)


@bp.get("/")
@policy.public
@hide
async def index() -> Response:
    """The web app."""
    return _app_page()


@bp.get("/assets/<path:filename>")
@policy.public
@hide
async def asset(filename: str) -> Response:
    """A content-hashed build file: safe to cache for good."""
    if not (BUILD_DIR / "assets").is_dir():
        raise NotFound(f"No asset {filename}: the web UI is not built.", code="asset_not_found")
    response = await send_from_directory(BUILD_DIR / "assets", filename)
    response.headers["Cache-Control"] = IMMUTABLE
    return _security_headers(response)


@bp.get("/<app_path:path>")
@policy.public
@hide
async def app_route(path: str) -> Response:
    """A file at the build's root (favicon), else the app, whose router owns the path."""
    if "/" not in path and (BUILD_DIR / path).is_file() and path != "index.html":
        response = await send_from_directory(BUILD_DIR, path)
        response.headers["Cache-Control"] = ROOT_FILE_CACHE
        return _security_headers(response)
    if "text/html" not in request.headers.get("Accept", ""):
        raise NotFound(f"No route for {request.path}.", code="route_not_found")
    return _app_page()


def swagger_ui_urls(build_dir: Path) -> tuple[str, str] | None:
    """The same-origin URLs of the build's Swagger UI script and stylesheet, if it has them."""
    for script in sorted(build_dir.glob(SWAGGER_UI_BUNDLE), reverse=True):
        if (script.parent / "swagger-ui.css").is_file():
            folder = "/" + script.parent.relative_to(build_dir).as_posix()
            return f"{folder}/swagger-ui-bundle.js", f"{folder}/swagger-ui.css"
    return None


@hookimpl
def register_routes() -> Blueprint:
    return bp


@hookimpl
def on_startup(app: NotewellApp) -> None:
    # quart-schema reads these on every /api/docs request; its defaults are a CDN's
    urls = swagger_ui_urls(BUILD_DIR)
    if urls is not None:
        app.config["QUART_SCHEMA_SWAGGER_JS_URL"], app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = urls
