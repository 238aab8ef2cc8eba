"""Hooks the auth plugin publishes for other plugins (added through ``register_hookspecs``)."""

from __future__ import annotations

from notewell.kernel.hookspecs import hookspec


@hookspec
def on_user_deleted(user_id: str) -> None:
    """Delete (or reassign) every row this plugin keeps for ``user_id``.

    Called before the account itself is deleted, for every plugin implementing it
    (disabled ones too, since their tables still hold rows). May return an awaitable.
    Raise to stop the deletion: the account is kept and the admin sees
    ``user_delete_failed``, so that a retry can finish the job and nothing is orphaned.
    The kernel event ``auth.user_deleted`` (``{"user_id": ...}``) follows once it is done.
    """
