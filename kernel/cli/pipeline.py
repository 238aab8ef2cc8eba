"""``notewell pipeline validate|graph|schema|list`` (and ``run``, from its own module)."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from notewell.kernel.pipelines.issues import Issue
    from notewell.kernel.pipelines.step import Step

# subcommands that live in other modules, added when the module exists
EXTERNAL_COMMANDS: dict[str, str] = {"run": "notewell.kernel.cli.pipeline_run"}


class PipelineGroup(click.Group):
    """The ``pipeline`` group; finds subcommands kept in other modules lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        external = [name for name, module in EXTERNAL_COMMANDS.items() if _exists(module)]
        return sorted({*super().list_commands(ctx), *external})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        module_name = EXTERNAL_COMMANDS.get(name)
        if command is None and module_name is not None and _exists(module_name):
            module = importlib.import_module(module_name)
            command = next((c for c in module.commands if c.name == name), None)
        return command


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=PipelineGroup)
def pipeline() -> None:
    """Check, draw and list pipelines; print the file format's JSON Schema."""


@pipeline.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the issues as JSON.")
def validate_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Check pipeline FILES against the installed steps; print every problem.

    Each problem is one line, `file:line:column: code: message`, followed by a hint.
    Exits 1 when any file has a problem, 0 when all are fine.
    """
    from notewell.kernel.pipelines.validate import validate_file

    steps = step_classes()
    report: dict[str, list[Issue]] = {}
    for file in files:
        _, issues = validate_file(file, steps)
        report[str(file)] = issues
    if as_json:
        payload = {name: [i.to_dict() for i in issues] for name, issues in report.items()}
        click.echo(json.dumps(payload, indent=2))
    else:
        for name, issues in report.items():
            _print_issues(name, issues)
    if any(report.values()):
        raise SystemExit(1)


def _print_issues(name: str, issues: list[Issue]) -> None:
    if not issues:
        click.echo(f"{name}: ok")
        return
    for issue in issues:
        where = f"{issue.location}: " if issue.location else f"{name}: "
        click.echo(f"{where}{click.style(issue.code, fg='red')}: {issue.message}")
        if issue.hint:
            click.echo(f"    hint: {issue.hint}")


@pipeline.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of pipeline files (for editors and CI checks)."""
    from notewell.kernel.pipelines.spec import pipeline_json_schema

    click.echo(json.dumps(pipeline_json_schema(), indent=2))


@pipeline.command("graph")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid flowchart or Graphviz DOT.",
)
def graph_command(file: Path, fmt: str) -> None:
    """Print the step graph of pipeline FILE (solid: data flows; dashed: `needs`)."""
    from notewell.kernel.pipelines.graph import to_dot, to_mermaid
    from notewell.kernel.pipelines.loader import PipelineLoadError, load_pipeline

    try:
        loaded = load_pipeline(file)
    except PipelineLoadError as exc:
        _print_issues(str(file), exc.issues)
        raise SystemExit(1) from None
    click.echo((to_mermaid if fmt == "mermaid" else to_dot)(loaded.spec), nl=False)


@pipeline.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List the pipelines Notewell finds: the packaged ones and NOTEWELL_PIPELINE_DIRS."""
    from notewell.kernel.cli.context import settings
    from notewell.kernel.pipelines.catalog import PipelineCatalog, pipeline_dirs

    entries = PipelineCatalog(pipeline_dirs(settings())).entries()
    if as_json:
        click.echo(json.dumps([entry.to_public() for entry in entries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "version", "description", "file"):
        table.add_column(column)
    for entry in entries:
        description = entry.description
        if entry.loaded is None:
            description = f"[red]not loadable: {entry.issues[0] if entry.issues else '?'}[/red]"
        table.add_row(entry.name, entry.version, description, str(entry.path))
    Console().print(table)


def step_classes() -> dict[str, type[Step]]:
    """The step classes the enabled plugins register, keyed by ``Step.name``."""
    from notewell.kernel.cli.context import plugin_host

    found: dict[str, type[Step]] = {}
    for result in plugin_host().call("register_steps"):
        classes: Any = result if isinstance(result, list | tuple) else [result]
        for cls in classes:
            name = getattr(cls, "name", "")
            if name:
                found.setdefault(name, cls)
    return found


commands = [pipeline]
