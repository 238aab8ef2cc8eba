"""Health, readiness and plugin administration routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Response, jsonify
from quart_schema import validate_request

from notewell.kernel import __version__, policy
from notewell.kernel.app import current_kernel
from notewell.kernel.hookspecs import hookimpl
from notewell.kernel.http import current_actor

bp = Blueprint("kernel", __name__)


@bp.get("/health")
@policy.public
async def health() -> dict[str, Any]:
    """Liveness: the process is up and serving."""
    return {"status": "ok", "version": __version__}


@bp.get("/ready")
@policy.public
async def ready() -> Response:
    """Readiness: the database (and Redis, when configured) answer."""
    kernel = current_kernel()
    checks: dict[str, str] = {}
    try:
        await kernel.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is shown
        checks["database"] = f"error: {type(exc).__name__}"
    ping = getattr(kernel.bus, "ping", None)
    if ping is not None:
        try:
            await ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(value == "ok" for value in checks.values())
    response = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    response.status_code = 200 if ok else 503
    return response


@bp.get("/api/v1/plugins")
@policy.admin
async def list_plugins() -> dict[str, Any]:
    """Every plugin: name, version, source, hooks implemented and state."""
    records = current_kernel().plugins.records.values()
    return {"plugins": [record.to_public() for record in records]}


class PluginStateUpdate(BaseModel):
    enabled: bool


@bp.patch("/api/v1/plugins/<name>")
@policy.admin
@validate_request(PluginStateUpdate)
async def update_plugin(name: str, data: PluginStateUpdate) -> dict[str, Any]:
    """Enable or disable a plugin at run time, in every server process."""
    record = await current_kernel().set_plugin_enabled(name, data.enabled, current_actor())
    return record.to_public()


@hookimpl
def register_routes() -> Blueprint:
    return bp
