"""Test plugin for the real-time tests: Socket.IO handlers for client events."""

from __future__ import annotations

import asyncio
from typing import Any

from notewell.kernel import Actor, Forbidden, hookimpl


async def echo(*, actor: Actor, data: Any, sid: str) -> dict[str, Any]:
    await asyncio.sleep(0)  # handlers may be coroutines
    return {"actor": actor.id, "data": data, "sid": sid}


def refuse(*, actor: Actor, data: Any, sid: str) -> None:
    raise Forbidden("Not for you.", code="probe_forbidden")


def crash(*, actor: Actor, data: Any, sid: str) -> None:
    raise RuntimeError("a bug in a plugin")


@hookimpl
def register_socket_handlers() -> dict[str, Any]:
    return {"probe.echo": echo, "probe.refuse": refuse, "probe.crash": crash}
