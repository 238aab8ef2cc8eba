"""``notewell user create`` and ``notewell user reset-password``."""

from __future__ import annotations

from typing import Any

import click


@click.group()
def user() -> None:
    """Manage accounts from the command line."""


def _run(body: Any) -> Any:
    from notewell.kernel.cli.context import run_async, with_kernel
    from notewell.kernel.errors import NotewellError
    from notewell.plugins.auth.state import AuthState

    async def with_state(kernel: Any) -> Any:
        await kernel.bus.start()
        try:
            return await body(AuthState(kernel))
        finally:
            await kernel.bus.stop()

    try:
        return run_async(lambda: with_kernel(with_state, migrate=True))
    except NotewellError as exc:
        raise click.ClickException(exc.message) from None


@user.command("create")
@click.option("--email", required=True, help="The account's e-mail address.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (prompted for when left out).")
@click.option("--role", type=click.Choice(["admin", "user", "pending"]), default="user",
              show_default=True)
@click.option("--name", default="", help="Display name.")
def create(email: str, password: str, role: str, name: str) -> None:
    """Create an account with a password and a role."""
    from notewell.plugins.auth import audit, service

    async def body(state: Any) -> Any:
        address = service.check_email(email)
        service.check_password_policy(state, password)
        async with state.db.session() as session:
            created = await service.create_user(state, session, email=address,
                                                password=password, name=name, role=role)
            audit.record(session, "signup", subject_id=created.id, role=role, via="cli")
            return created

    created = _run(body)
    click.echo(f"Created {created.email} ({created.role}), id {created.id}")


@user.command("reset-password")
@click.argument("email")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True,
              help="The new password (prompted for when left out).")
def reset_password(email: str, password: str) -> None:
    """Set a new password for EMAIL and sign out all of its sessions."""
    from notewell.plugins.auth import service

    updated = _run(lambda state: service.set_password(state, email, password))
    click.echo(f"Password of {updated.email} reset; its sessions were signed out.")
