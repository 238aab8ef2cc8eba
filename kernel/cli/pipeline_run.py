"""``notewell pipeline run FILE|NAME``: run a pipeline here, showing each step live.

The run is recorded like any other (actor ``system``) in the configured database.
Progress goes to stderr — a live table on a terminal, plain lines otherwise — and the
pipeline's outputs go to stdout as JSON, so ``… | jq`` works. Exits 1 when the run
does not succeed, 2 when the pipeline or its inputs are invalid.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from notewell.kernel.app import Kernel
    from notewell.kernel.events import Event
    from notewell.kernel.pipelines.loader import LoadedPipeline
    from notewell.kernel.pipelines.records import RunRead

STYLES = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "reused": "green",
    "failed": "red",
    "cancelled": "magenta",
    "skipped": "dim",
}


_STEP_TOPICS = ("run.step_queued", "run.step_started", "run.step_finished")


class Progress:
    """One line per step with its status and time, fed by the run's bus events."""

    def __init__(self, console: Console, step_ids: list[str]) -> None:
        self.console = console
        self.rows: dict[str, dict[str, Any]] = {sid: {"status": "waiting"} for sid in step_ids}
        self.live = console.is_terminal

    async def on_event(self, event: Event) -> None:
        """Bus handler: update the step's row (and print a line when not live)."""
        step_id = event.data.get("step_id")
        if step_id not in self.rows or event.topic not in _STEP_TOPICS:
            return
        row = self.rows[step_id]
        row["status"] = event.data["status"]
        if event.topic in ("run.step_queued", "run.step_started"):
            row["since"] = time.perf_counter()  # queued for / running for
        else:
            row["ms"] = event.data.get("duration_ms")
            row["error"] = (event.data.get("error") or {}).get("message")
        if not self.live:
            self.console.print(self._line(step_id, row), highlight=False)

    def _line(self, step_id: str, row: dict[str, Any]) -> str:
        text = f"{step_id}  {row['status']}  {self._time(row)}".rstrip()
        return f"{text}  {row['error']}" if row.get("error") else text

    @staticmethod
    def _time(row: dict[str, Any]) -> str:
        if row.get("ms") is not None:
            return f"{row['ms'] / 1000:.2f}s"
        if row["status"] in ("queued", "running") and "since" in row:
            return f"{time.perf_counter() - row['since']:.1f}s"
        return ""

    def table(self) -> RenderableType:
        """The live view: a table redrawn a few times a second."""
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        for step_id, row in self.rows.items():
            style = STYLES.get(row["status"], "dim")
            error = row.get("error") or ""
            table.add_row(
                step_id,
                f"[{style}]{row['status']}[/]",
                self._time(row),
                f"[red]{error}[/]" if error else "",
            )
        return table


def _inputs(
    loaded: LoadedPipeline, pairs: tuple[str, ...], json_inputs: str | None
) -> dict[str, Any]:
    from notewell.kernel.pipelines.inputs import parse_cli_value

    values: dict[str, Any] = {}
    if json_inputs:
        try:
            values = json.loads(json_inputs)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--json-inputs") from None
        if not isinstance(values, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--json-inputs")
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--input")
        values[name] = parse_cli_value(loaded.spec.inputs.get(name), text)
    return values


async def _load(kernel: Kernel, target: str) -> LoadedPipeline:
    from notewell.kernel.pipelines.loader import load_pipeline

    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return await asyncio.to_thread(load_pipeline, path)
    return await kernel.pipelines.find(target)


async def _run(
    target: str,
    pairs: tuple[str, ...],
    json_inputs: str | None,
    resume: str | None,
    console: Console,
) -> RunRead:
    from rich.live import Live

    from notewell.kernel.actor import SYSTEM
    from notewell.kernel.app import create_app
    from notewell.kernel.cli.context import settings

    app = create_app(settings())
    kernel = app.kernel
    await kernel.start(app)
    try:
        loaded = await _load(kernel, target)
        progress = Progress(console, [step.id for step in loaded.spec.steps])
        kernel.bus.subscribe(progress.on_event, "run.step_")
        if resume:
            handle = await kernel.pipelines.resume(resume, SYSTEM, loaded)
        else:
            inputs = _inputs(loaded, pairs, json_inputs)
            handle = await kernel.pipelines.start_run(loaded, inputs, actor=SYSTEM)
        if progress.live:
            with Live(get_renderable=progress.table, console=console, refresh_per_second=8):
                await handle.wait()
                await asyncio.sleep(0.05)  # let the last events land in the table
        else:
            await handle.wait()
        return await kernel.pipelines.get(handle.id, SYSTEM)
    finally:
        await kernel.stop(app)


@click.command("run")
@click.argument("target", metavar="FILE|NAME")
@click.option(
    "--input",
    "-i",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input; VALUE is read as JSON unless the input is a string.",
)
@click.option("--json-inputs", metavar="JSON", help="All inputs as one JSON object.")
@click.option(
    "--resume",
    metavar="RUN_ID",
    help="Resume this failed or cancelled run with FILE|NAME, reusing its steps.",
)
def run_command(
    target: str, pairs: tuple[str, ...], json_inputs: str | None, resume: str | None
) -> None:
    """Run the pipeline in FILE (or the catalog's pipeline NAME) and print its outputs."""
    from rich.console import Console

    from notewell.kernel.errors import NotewellError
    from notewell.kernel.pipelines.loader import PipelineLoadError

    console = Console(stderr=True)
    try:
        run = asyncio.run(_run(target, pairs, json_inputs, resume, console))
    except PipelineLoadError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(2)
    except NotewellError as exc:
        click.echo(f"notewell: {exc.message}", err=True)
        for problem in exc.extra.get("errors", []):
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    click.echo(json.dumps(run.outputs, indent=2, default=str))
    if run.status != "succeeded":
        error = run.error or {}
        click.echo(
            f"run {run.id} {run.status}: {error.get('message', '')} [{error.get('code', '')}]",
            err=True,
        )
        sys.exit(1)
    click.echo(f"run {run.id} succeeded in {(run.duration_ms or 0) / 1000:.2f}s", err=True)


commands = [run_command]
