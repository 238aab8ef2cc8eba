"""``notewell migrate`` (upgrade), ``migrate status`` and ``migrate downgrade TARGET``.

Each revision is printed on its own line as it is applied (branch, revision,
description); on a terminal a spinner shows how far along the run is. Without a
terminal (CI, logs) the same lines come out as plain text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click


@click.group(invoke_without_command=True)
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations of the kernel and every plugin.

    Without a subcommand, upgrade every branch to its newest revision (`upgrade heads`).
    All pending revisions apply in one transaction: if one fails, nothing changes.
    """
    # alembic's own INFO lines would only repeat what this command prints
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if ctx.invoked_subcommand is None:
        ctx.invoke(upgrade, target="heads")


@migrate.command()
@click.argument("target", default="heads")
def upgrade(target: str) -> None:
    """Apply revisions up to TARGET (default: heads, every branch; or `auth@head`, a revision)."""
    _change("upgrade", target)


@migrate.command()
@click.argument("target")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def downgrade(target: str, yes: bool) -> None:
    """Revert revisions down to TARGET: `auth@base` (a whole plugin), a revision id, or `base`.

    Reverting drops the tables, and the data in them, that those revisions created.
    """
    if not yes:
        click.confirm(
            f"Revert migrations down to {target}? Data in dropped tables is lost.", abort=True
        )
    _change("downgrade", target)


@migrate.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--check", is_flag=True, help="Exit with status 1 when migrations are pending.")
def status(as_json: bool, check: bool) -> None:
    """Show, per branch, the revision the database is at, the newest one and what is pending."""
    from notewell.kernel.cli.context import run_async, with_kernel

    async def body(kernel: Any) -> Any:
        return await kernel.migrator().status()

    result = run_async(lambda: with_kernel(body))
    if as_json:
        click.echo(json.dumps(_status_document(result), indent=2))
    else:
        _print_status(result)
    if check and result.pending:
        sys.exit(1)


def _change(direction: str, target: str) -> None:
    from rich.console import Console

    from notewell.kernel.cli.context import run_async, with_kernel
    from notewell.kernel.migrate import MigrationError

    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)

    async def body(kernel: Any) -> Any:
        migrator = kernel.migrator()
        total = None  # known up front only for a full upgrade
        if (direction, target) == ("upgrade", "heads"):
            total = len((await migrator.status()).pending)
        with _progress(console, direction, total) as on_step:
            done = await getattr(migrator, direction)(target, on_step=on_step)
        return kernel.db.shown_url, done

    try:
        shown_url, done = run_async(lambda: with_kernel(body))
    except MigrationError as exc:
        err.print(f"{_marks(err)[2]} {exc}", style="red", markup=False, soft_wrap=True)
        sys.exit(1)
    verb = "applied" if direction == "upgrade" else "reverted"
    summary = f"{len(done)} revision(s) {verb}" if done else f"Nothing to {direction}"
    where = "up to date" if target == "heads" else f"at {target}"
    summary += f"; {shown_url} is {where}."
    console.print(summary, markup=False, soft_wrap=True)


@contextlib.contextmanager
def _progress(console: Any, direction: str, total: int | None) -> Iterator[Callable[[Any], None]]:
    """Yield the per-revision callback: one line per revision, a spinner on terminals."""
    from rich.text import Text

    done_mark, down_mark, _ = _marks(console)
    mark = done_mark if direction == "upgrade" else down_mark
    count = 0
    spinner = console.status(f"{direction}: starting") if console.is_terminal else None

    def on_step(step: Any) -> None:
        nonlocal count
        count += 1
        line = Text.assemble(
            (f"  {mark} ", "green"), f"{step.branch:<14} {step.revision:<16} {step.description}"
        )
        console.print(line, soft_wrap=True)
        if spinner is not None:
            spinner.update(f"{direction}: {count} of {total or '?'} done")

    with spinner if spinner is not None else contextlib.nullcontext():
        yield on_step


def _marks(console: Any) -> tuple[str, str, str]:
    """Check, down-arrow and cross where the output can show them, else ASCII."""
    if (console.encoding or "").lower().startswith("utf"):
        return "✓", "↓", "✗"
    return "+", "-", "x"


def _status_document(result: Any) -> dict[str, Any]:
    return {
        "branches": [
            {
                "branch": branch.branch,
                "current": branch.current,
                "heads": branch.heads,
                "pending": [step.__dict__ for step in branch.pending],
            }
            for branch in result.branches
        ],
        "unknown": result.unknown,
    }


def _print_status(result: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(box=box.SIMPLE)
    for column in ("branch", "current", "head", "pending"):
        table.add_column(column)
    for branch in result.branches:
        pending = ", ".join(step.revision for step in branch.pending) or "-"
        table.add_row(
            branch.branch, ", ".join(branch.current) or "(none)", ", ".join(branch.heads), pending
        )
    console.print(table)
    for revision in result.unknown:
        console.print(
            f"unknown revision {revision}: recorded in the database, but no loaded plugin "
            "provides it (left as it is)",
            markup=False,
            soft_wrap=True,
        )
    count = len(result.pending)
    console.print(f"{count} revision(s) pending." if count else "Up to date.")


commands = [migrate]
