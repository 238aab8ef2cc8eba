"""How Notewell is served: uvicorn, with httptools parsing HTTP and uvloop running the
event loop where they are installed (docs/adr/0005-uvicorn.md says why).

``notewell serve`` and the test helpers build their servers here, so both serve the
same way: no access log (requests are logged by the kernel, with their request id), no
``Server`` header, ``X-Forwarded-*`` left to the kernel's ``trusted_proxies``, and the
server's own log lines through the root logger (one JSON line each).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

GRACEFUL_SHUTDOWN_S = 10.0


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int = 1,
    reload: bool = False,
    graceful_s: float = GRACEFUL_SHUTDOWN_S,
) -> Any:
    """A ``uvicorn.Config`` for ``app`` (an ASGI app, or an import string of a factory)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        factory=isinstance(app, str),
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        ws="websockets-sansio" if _installed("websockets") else "wsproto",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(graceful_s),
        backlog=2048,
    )


def server(config: Any, *, handle_signals: bool = True) -> Any:
    """A ``uvicorn.Server`` that stops gracefully on SIGINT/SIGTERM (a second SIGINT
    stops at once) and then exits normally, status 0 — uvicorn's own handling would
    re-raise the signal after the graceful stop and end the process by it. With
    ``handle_signals=False`` (a server inside tests) it leaves signals alone."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if not handle_signals:
                yield
                return
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
            try:
                yield
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    return Server(config)


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on a new event loop: uvloop's where it is installed."""
    if _installed("uvloop"):
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
    else:
        asyncio.run(main())


def settle_heap() -> None:
    """Move what start-up built (modules, schemas, the app) out of the collector's sight.

    The cyclic garbage collector's full collections walk every tracked object; in a
    started server most of them are start-up's and live as long as the process. Left in
    view, each full collection under load walked them all again: about a tenth of the
    server's CPU at 1,400 requests/s. Collected once, then frozen (``gc.freeze``), they
    are skipped; objects made later are collected as before. Only for a serving process:
    frozen objects are never collected, so a process that builds many apps (tests) must
    not call this.

    The youngest generation is collected every 50,000 allocations instead of 700: each
    of its collections walks every object of the requests in flight (at concurrency 32,
    thousands), and requests free almost all they allocate by reference counting anyway.
    Together, the collector's share of the CPU fell from ~15% to ~1.5% under load.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
