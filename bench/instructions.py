"""Instructions per proxied completion, counted by valgrind: a measure that noise cannot move.

`bench/gateway.py` measures what the budgets name (CPU time, latency, throughput), but
on a shared two-core machine its rounds scatter by ±15%, more than most single changes
gain or lose. This script counts instead: it runs the app in one process under
valgrind's callgrind, drives ``/v1/chat/completions`` through the app's ASGI interface
at concurrency 32 (the same request, API key, rate limiting and run records as the
gateway bench; a real upstream in its own process), and counts the instructions the
process executes for the measured requests only (callgrind's instrumentation is switched
on after warm-up and off after the last run record is written). Repeated runs agree
within 1% (how many batches the run journal writes varies a little from run to run).

What it counts is Notewell's own work and the libraries it calls in its process (Quart,
aiohttp, SQLite, the journal's writer thread); not the server's socket I/O (uvicorn is
not in the path) nor time spent waiting. Use it to compare two trees; use
`bench/gateway.py` for the budgets.

    .venv/bin/python bench/instructions.py [--requests 300] [--baseline-tree DIR]

``--baseline-tree DIR`` counts another checkout too (``git worktree add DIR <commit>``)
and prints the ratio. Needs valgrind (``apt-get install valgrind``); it takes about half
a minute per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import gateway

# -- inside valgrind: the app, driven over ASGI --------------------------------------


async def _call(
    app: Any, method: str, path: str, body: Any = None, headers: list[Any] | None = None
) -> tuple[int, bytes]:
    """One request through the app's ASGI interface: (status, body)."""
    raw = json.dumps(body).encode() if body is not None else b""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            *(headers or []),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    delivered = False
    answered = asyncio.Event()
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await answered.wait()  # as a server does: the client "leaves" after the answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answered.set()
    return status, b"".join(chunks)


async def _drive(upstream_port: int, requests: int, gate: Path) -> None:
    from notewell.kernel.app import create_app
    from notewell.kernel.serving import settle_heap

    app = create_app()
    lifespan_in: asyncio.Queue[Any] = asyncio.Queue()
    lifespan_out: asyncio.Queue[Any] = asyncio.Queue()
    await lifespan_in.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get, lifespan_out.put)
    )
    started = await lifespan_out.get()
    assert started["type"] == "lifespan.startup.complete", started
    settle_heap()  # as `notewell serve` does

    async def post(path: str, body: Any, token: str | None = None) -> Any:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        status, answer = await _call(app, "POST", path, body, headers)
        assert status in (200, 201), (path, status, answer[:300])
        return json.loads(answer)

    credentials = {"email": "bench@example.com", "password": "correct horse battery"}
    token = (await post("/api/v1/auth/signup", credentials))["token"]
    key = (await post("/api/v1/auth/keys", {"name": "bench"}, token))["key"]
    connection = {
        "name": "bench",
        "type": "openai",
        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
    }
    await post("/api/v1/connections", connection, token)
    completion = {"model": gateway.MODEL, "messages": gateway.PROMPT["messages"]}

    async def load(count: int) -> None:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await post("/v1/chat/completions", completion, key)

        await asyncio.gather(*(worker() for _ in range(32)))

    await load(300)  # warm: connections, caches, the pipeline's version row
    await asyncio.sleep(1.0)
    (gate / "ready").touch()  # the parent switches counting on, then says go
    while not (gate / "go").exists():
        await asyncio.sleep(0.02)
    await load(requests)
    await app.kernel.pipelines.store.flush()  # the measured calls' records, written
    (gate / "done").touch()
    while (gate / "go").exists():  # counting is switched off
        await asyncio.sleep(0.02)
    await lifespan_in.put({"type": "lifespan.shutdown"})
    await lifespan


def _inside(upstream_port: int, requests: int, gate: Path) -> None:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_drive(upstream_port, requests, gate))


# -- outside: valgrind, switched on for the measured part ------------------------------


def count(tree: Path | None, upstream_port: int, requests: int) -> float:
    """Instructions per request of the app from ``tree`` (None: the installed one)."""
    with tempfile.TemporaryDirectory(prefix="notewell-instructions-") as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "NOTEWELL_DATA_DIR": str(work / "data"),
            "NOTEWELL_LOG_LEVEL": "WARNING",
            "NOTEWELL_PROVIDERS__LOCAL_MODELS": "false",
            "NOTEWELL_RATELIMIT__CLASSES": json.dumps(
                {"default": "100000000/minute", "auth": "1000/minute",
                 "generation": "100000000/minute"}
            ),
            "NOTEWELL_AUTH__DEFAULT_ROLE": "user",
        }
        if tree is not None:
            (work / "pythonpath").mkdir()
            (work / "pythonpath" / "notewell").symlink_to(tree.resolve(), target_is_directory=True)
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(work / "pythonpath"), env.get("PYTHONPATH")])
            )
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={work}/callgrind.out",
            sys.executable, __file__, "--inside", str(upstream_port), str(requests), str(work),
        ]  # fmt: skip
        log = work / "valgrind.log"
        with log.open("wb") as errors:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            _wait_for(work / "ready", process, log)
            _control("-i", "on", process.pid)
            (work / "go").touch()
            _wait_for(work / "done", process, log)
            _control("-d", process.pid)  # the measured part, as its own dump
            _control("-i", "off", process.pid)
            (work / "go").unlink()
            if process.wait(timeout=300) != 0:
                raise RuntimeError(f"the counted process failed:\n{_tail(log)}")
        finally:
            if process.poll() is None:
                process.kill()
        dumps = [path for path in work.glob("callgrind.out*") if path.name != "callgrind.out"]
        total = sum(_total(path) for path in dumps)
        return total / requests


def _control(*args: Any) -> None:
    subprocess.run(
        ["callgrind_control", *map(str, args)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the counted process exited early:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} did not appear in 900 s")
        time.sleep(0.2)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _wait_for_upstream(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _total(dump: Path) -> int:
    """The instruction total of one callgrind dump."""
    for line in dump.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--upstream-kind", choices=sorted(gateway.UPSTREAMS), default="fastapi")
    parser.add_argument("--inside", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        port, requests, gate = args.inside
        _inside(int(port), int(requests), Path(gate))
        return
    upstream_port = gateway.free_port()
    upstream = multiprocessing.Process(
        target=gateway.UPSTREAMS[args.upstream_kind], args=(upstream_port,), daemon=True
    )
    upstream.start()
    try:
        _wait_for_upstream(upstream_port)
        now = count(None, upstream_port, args.requests)
        print(f"notewell: {now:,.0f} instructions per proxied completion")
        if args.baseline_tree:
            before = count(args.baseline_tree, upstream_port, args.requests)
            print(f"baseline: {before:,.0f} instructions per proxied completion")
            print(f"notewell / baseline: {now / before:.3f}")
    finally:
        upstream.terminate()


if __name__ == "__main__":
    main()
