"""``notewell plugins list|enable|disable`` and ``notewell plugin new``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def plugins() -> None:
    """List installed plugins; enable or disable them (persisted, no restart needed)."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_plugins(as_json: bool) -> None:
    """Show each plugin's name, version, source, state and hooks."""
    from notewell.kernel.cli.context import run_async, with_kernel

    async def body(kernel):  # type: ignore[no-untyped-def]
        await kernel.load_plugin_states()
        return [record.to_public() for record in kernel.plugins.records.values()]

    rows = run_async(lambda: with_kernel(body, migrate=True))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "version", "source", "state", "hooks"):
        table.add_column(column)
    for row in rows:
        state = row["state"] if not row["error"] else f"{row['state']} ({row['error']})"
        table.add_row(row["name"], row["version"], row["source"], state, ", ".join(row["hooks"]))
    Console().print(table)


def _switch(name: str, enabled: bool) -> None:
    from notewell.kernel.actor import SYSTEM
    from notewell.kernel.cli.context import run_async, with_kernel
    from notewell.kernel.errors import NotewellError

    async def body(kernel):  # type: ignore[no-untyped-def]
        await kernel.bus.start()
        try:
            return await kernel.set_plugin_enabled(name, enabled, SYSTEM)
        finally:
            await kernel.bus.stop()

    try:
        record = run_async(lambda: with_kernel(body, migrate=True))
    except NotewellError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{record.name}: {record.state}")


@plugins.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Enable plugin NAME in every server process."""
    _switch(name, True)


@plugins.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable plugin NAME: its routes, steps and socket handlers disappear."""
    _switch(name, False)


@click.group()
def plugin() -> None:
    """Create a new plugin."""


@plugin.command("new")
@click.argument("name")
@click.option("--directory", "-d", type=click.Path(path_type=Path), default=Path("."),
              help="Where to create the package folder.")
def new(name: str, directory: Path) -> None:
    """Scaffold an installable plugin package NAME with one hook and one passing test."""
    from notewell.kernel.cli.scaffold import scaffold_plugin

    try:
        target = scaffold_plugin(name, directory)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {target}. Next: pip install -e {target} && pytest {target}")


commands = [plugins, plugin]
