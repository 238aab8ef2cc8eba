"""The ``notewell`` command line.

Kernel commands live in the modules named in ``COMMAND_MODULES`` (each exposes a
``commands`` list) and are imported only when used, so ``notewell --help`` is quick.
Plugins add commands through the ``register_commands`` hook.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from notewell.kernel import __version__
from notewell.kernel.errors import StartupError

COMMAND_MODULES: dict[str, str] = {
    "serve": "notewell.kernel.cli.serve",
    "config": "notewell.kernel.cli.config",
    "plugins": "notewell.kernel.cli.plugins",
    "plugin": "notewell.kernel.cli.plugins",
    "version": "notewell.kernel.cli.serve",
    "pipeline": "notewell.kernel.cli.pipeline",
    "migrate": "notewell.kernel.cli.migrate",
    "worker": "notewell.kernel.cli.worker",
}


class NotewellGroup(click.Group):
    """Finds kernel commands lazily and plugin commands through the hook."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self._plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(name)
        if module_name is not None:
            module = importlib.import_module(module_name)
            commands: list[click.Command] = module.commands
            for command in commands:
                if command.name == name:
                    return command
        return self._plugin_commands().get(name)

    def _plugin_commands(self) -> dict[str, click.Command]:
        from notewell.kernel.cli.context import plugin_host

        found: dict[str, click.Command] = {}
        try:
            host = plugin_host()
        except StartupError:
            return found
        for result in host.call("register_commands"):
            for command in result if isinstance(result, list) else [result]:
                if command.name:
                    found.setdefault(command.name, command)
        return found

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StartupError as exc:
            click.secho(f"notewell: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=NotewellGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="notewell")
def main() -> None:
    """Notewell: a self-hosted AI workspace.

    Settings come from NOTEWELL_* environment variables and the TOML file named by
    NOTEWELL_CONFIG; `notewell config show` prints them and where each came from.
    """
