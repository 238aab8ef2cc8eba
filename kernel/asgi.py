"""The ASGI entry point for servers: ``uvicorn --factory notewell.kernel.asgi:create_asgi_app``.

Settings come from the environment; this is what each server worker process imports.
"""

from __future__ import annotations

from typing import Any


def create_asgi_app() -> Any:
    from notewell.kernel.app import create_app

    return create_app()
