"""The ASGI entry point for servers: ``uvicorn --factory notewell.kernel.asgi:create_asgi_app``.

Settings come from the environment; this is what each server worker process imports.
"""

from __future__ import annotations

from typing import Any


def create_asgi_app() -> Any:
    from notewell.kernel import serving
    from notewell.kernel.app import create_app

    app = create_app()
    serving.settle_heap()
    return app
