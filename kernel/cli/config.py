"""``notewell config show``."""

from __future__ import annotations

import json

import click


@click.group()
def config() -> None:
    """Inspect the effective settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(as_json: bool) -> None:
    """Print every setting, its value (secrets masked) and where the value came from.

    Precedence, highest first: environment variable, config file (NOTEWELL_CONFIG),
    default. Plugin settings follow the kernel's, one table per plugin.
    """
    from rich.console import Console
    from rich.table import Table

    from notewell.kernel.cli.context import plugin_host, settings
    from notewell.kernel.settings import describe_sources

    current = settings()
    plugin_host()  # validates and binds the plugins' settings
    sections = {"kernel": describe_sources(current)}
    for section, model in sorted(current._plugin_settings.items()):
        sections[section] = describe_sources(model)
    if as_json:
        click.echo(json.dumps(sections, indent=2, default=str))
        return
    console = Console()
    for section, rows in sections.items():
        table = Table(title=f"[{section}]", title_justify="left")
        for column in ("setting", "value", "source"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["name"], json.dumps(row["value"], default=str), row["source"])
        console.print(table)


commands = [config]
