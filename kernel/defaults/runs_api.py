"""The runs API: list pipelines, start runs, read, cancel and resume them.

Users see and act on their own runs only (another user's run answers 404); admins see
every run, and only admins see tracebacks. See docs/runs.md.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint, request
from quart_schema import validate_querystring, validate_request

from notewell.kernel import policy
from notewell.kernel.app import current_kernel
from notewell.kernel.hookspecs import hookimpl
from notewell.kernel.http import current_actor
from notewell.kernel.pipelines.catalog import CatalogEntry
from notewell.kernel.pipelines.records import RunRead
from notewell.kernel.pipelines.refs import step_dependencies

bp = Blueprint("runs", __name__, url_prefix="/api/v1")

Json = dict[str, Any]


class RunCreate(BaseModel):
    """The body of ``POST /api/v1/pipelines/{name}/runs``."""

    inputs: dict[str, Any] = Field(default_factory=dict)


class RunsQuery(BaseModel):
    """Filters and paging of ``GET /api/v1/runs``."""

    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None
    pipeline: str | None = Field(None, max_length=64)
    cursor: str | None = Field(None, max_length=26)
    limit: int = Field(50, ge=1, le=200)


def _run(run: RunRead) -> Json:
    return run.model_dump(mode="json")


def _pipeline(entry: CatalogEntry, is_admin: bool) -> Json:
    loaded = entry.loaded
    issues = list(entry.issues)
    if loaded is not None:
        issues.extend(current_kernel().pipelines.issues(loaded))
    shown: Json = {
        "name": entry.name,
        "version": entry.version,
        "description": entry.description,
        "content_hash": loaded.content_hash if loaded else None,
        "inputs": {
            name: spec.model_dump(mode="json", exclude_unset=True)
            for name, spec in loaded.spec.inputs.items()
        }
        if loaded
        else {},
        "runnable": loaded is not None and not issues,
        "steps": _steps(entry),
    }
    if is_admin:
        shown["file"] = str(entry.path)
        shown["issues"] = [issue.to_dict() for issue in issues]
    return shown


def _steps(entry: CatalogEntry) -> list[Json]:
    if entry.loaded is None:
        return []
    spec = entry.loaded.spec
    needs = step_dependencies(spec)
    return [
        {
            "id": s.id,
            "uses": s.uses,
            "name": s.name,
            "needs": sorted(needs[s.id]),
            "stream": s.stream,
        }
        for s in spec.steps
    ]


@bp.get("/pipelines")
@policy.user
async def list_pipelines() -> Json:
    """The pipelines users can run (admins also see files that do not load, and why)."""
    actor = current_actor()
    entries = await current_kernel().pipelines.pipelines()
    shown = [_pipeline(entry, actor.is_admin) for entry in entries]
    return {"pipelines": [p for p in shown if p["runnable"] or actor.is_admin]}


@bp.post("/pipelines/reload")
@policy.admin
async def reload_pipelines() -> Json:
    """Re-read changed pipeline files now (development mode does it on every look-up)."""
    pipelines = current_kernel().pipelines
    changed = await asyncio.to_thread(pipelines.catalog.reload)
    entries = await pipelines.pipelines()
    return {"changed": changed, "pipelines": [_pipeline(entry, True) for entry in entries]}


@bp.post("/pipelines/<name>/runs")
@policy.user
@validate_request(RunCreate)
async def start_run(name: str, data: RunCreate) -> tuple[Json, int]:
    """Start a run (202 with the run); ``?wait=true`` answers 200 once it has ended."""
    pipelines = current_kernel().pipelines
    actor = current_actor()
    handle = await pipelines.start_run(await pipelines.find(name), data.inputs, actor=actor)
    if request.args.get("wait", "").lower() in ("1", "true", "yes"):
        await handle.wait()
        return _run(await pipelines.get(handle.id, actor)), 200
    return _run(handle.execution.read().for_viewer(actor.is_admin)), 202


@bp.get("/runs")
@policy.user
@validate_querystring(RunsQuery)
async def list_runs(query_args: RunsQuery) -> Json:
    """Runs newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    runs, cursor = await current_kernel().pipelines.page(current_actor(), **query_args.model_dump())
    return {"runs": [run.model_dump(mode="json") for run in runs], "next_cursor": cursor}


@bp.get("/runs/<run_id>")
@policy.user
async def get_run(run_id: str) -> Json:
    """One run with its steps (live while it runs)."""
    return _run(await current_kernel().pipelines.get(run_id, current_actor()))


@bp.get("/runs/<run_id>/values/<value_id>")
@policy.user
async def get_value(run_id: str, value_id: str) -> Json:
    """A value stored by reference (``{"$blob": id}``) because it was too large for its row."""
    value = await current_kernel().pipelines.blob(run_id, value_id, current_actor())
    return {"value": value}


@bp.post("/runs/<run_id>/cancel")
@policy.user
async def cancel_run(run_id: str) -> tuple[Json, int]:
    """Cancel a running run (409 ``run_not_active`` when it has ended)."""
    run = await current_kernel().pipelines.cancel(run_id, current_actor())
    return _run(run), 202


@bp.post("/runs/<run_id>/resume")
@policy.user
async def resume_run(run_id: str) -> tuple[Json, int]:
    """Start a new run that reuses what succeeded in this failed or cancelled one."""
    actor = current_actor()
    handle = await current_kernel().pipelines.resume(run_id, actor)
    return _run(handle.execution.read().for_viewer(actor.is_admin)), 202


@hookimpl
def register_routes() -> Blueprint:
    return bp
