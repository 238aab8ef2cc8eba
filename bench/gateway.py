"""Notewell's OpenAI-compatible gateway against calling the upstream directly.

Starts a fast local OpenAI-compatible upstream (its own process: by default vLLM's HTTP
stack, FastAPI on uvicorn, answering at once with no model behind it) and
`notewell serve` (one process, embedded defaults: SQLite, auth with an API key, rate
limiting and run records on), adds the upstream as a connection, then measures in the
same run, alternating direct and through-Notewell rounds:

- added latency, p50 and p99, of non-streaming completions at concurrency 1;
- time-to-first-token overhead of streamed completions (256 tokens);
- throughput at concurrency 1 and 32, as the ratio Notewell / direct;
- Notewell's CPU time per request (psutil, the server process and its threads).

Budget (docs/performance.md, "Gateway"): at most 1.5 ms CPU per proxied completion,
added p50 at most 2 ms at concurrency 1, TTFT overhead at most 3 ms, throughput at
concurrency 32 at least 25% of direct.

    .venv/bin/python bench/gateway.py [--rounds 3] [--requests 600] [--seconds 4]

``--upstream-kind aiohttp`` uses a lean Python server as the upstream instead, and
``--upstream-kind raw`` a hand-written asyncio one, the fastest possible (the throughput
ratio then measures Notewell against almost nothing); ``--compare-aiohttp`` adds a
column going through Notewell over a connection whose provider is a minimal aiohttp
client (a bench-only plugin in ``bench/plugins``);
``--server-env NAME=VALUE`` changes the server's settings (for example
``NOTEWELL_DISABLED_PLUGINS=ratelimit``) to see what a part costs; ``--baseline-tree DIR``
also starts a second server from another checkout (``git worktree add DIR <commit>``) and
measures it in the same run, as the ``baseline`` column, to compare before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

MODEL = "bench-model"
TOKENS = 256
PROMPT = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}]}

# -- the upstream ----------------------------------------------------------------------


def _upstream_payloads() -> tuple[bytes, bytes, bytes]:
    completion = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Hello! How can I help?"},
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9},
        }
    ).encode()
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    events = [
        {
            **head,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    events += [
        {**head, "choices": [{"index": 0, "delta": {"content": f" tok{i}"}, "finish_reason": None}]}
        for i in range(TOKENS)
    ]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {
            **head,
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": TOKENS, "total_tokens": TOKENS + 3},
        }
    )
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    body += b"data: [DONE]\n\n"
    models = json.dumps(
        {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
    ).encode()
    return completion, body, models


class UpstreamProtocol(asyncio.Protocol):
    """Just enough HTTP/1.1 (keep-alive, Content-Length requests) to answer fast."""

    completion, stream, models = _upstream_payloads()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.respond(head.split(" ", 2)[1], body)

    def respond(self, path: str, body: bytes) -> None:
        if path.endswith("/models"):
            self._send(b"application/json", self.models)
        elif b'"stream": true' in body or b'"stream":true' in body:
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(self.stream), self.stream)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + chunked
            )
        else:
            self._send(b"application/json", self.completion)

    def _send(self, content_type: bytes, body: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )


def run_aiohttp_upstream(port: int) -> None:
    """The same answers from an aiohttp app: a typical lean Python server."""
    from aiohttp import web

    completion, stream, models = _upstream_payloads()

    async def complete(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if b'"stream": true' in body or b'"stream":true' in body:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(stream)
            await response.write_eof()
            return response
        return web.Response(body=completion, content_type="application/json")

    async def list_models(request: web.Request) -> web.Response:
        return web.Response(body=models, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    app.router.add_get("/v1/models", list_models)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def run_fastapi_upstream(port: int) -> None:
    """The same answers from FastAPI on uvicorn (vLLM's HTTP stack; ``fastapi_upstream``)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import fastapi_upstream

    fastapi_upstream.run(port, *_upstream_payloads())


def run_upstream(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            UpstreamProtocol, "127.0.0.1", port, backlog=512
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


UPSTREAMS = {"raw": run_upstream, "aiohttp": run_aiohttp_upstream, "fastapi": run_fastapi_upstream}


# -- the load --------------------------------------------------------------------------


class Connection:
    """A keep-alive HTTP/1.1 client connection (cheap, so the load costs little CPU)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, payload: bytes, first_token: bytes = b""
    ) -> tuple[float, float]:
        """Send; (seconds to the first ``first_token`` in the body, seconds in all)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        started = time.perf_counter()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{self.extra}\r\n".encode()
            + payload
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head[9:12]
        if status != b"200":
            raise RuntimeError(f"{path}: {head[:200]!r}")
        lowered = head.lower()
        first = None
        if b"transfer-encoding: chunked" in lowered:
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
                chunk = await self.reader.readexactly(size + 2)
                if first is None and first_token and first_token in chunk:
                    first = time.perf_counter() - started
                if size == 0:
                    break
        else:
            length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
            await self.reader.readexactly(length)
        total = time.perf_counter() - started
        if b"connection: close" in lowered:  # e.g. Hypercorn's keep_alive_max_requests
            await self.close()
        return (first if first is not None else total), total

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Target:
    """Where requests go: the upstream directly, or Notewell (and which model)."""

    def __init__(
        self,
        name: str,
        port: int,
        path: str,
        headers: dict[str, str],
        model: str = MODEL,
        server: psutil.Process | None = None,
    ) -> None:
        self.name, self.port, self.path, self.headers = name, port, path, headers
        self.model = model
        self.server = server
        """The process whose CPU counts for this target (None: the main server's)."""

    def payload(self, stream: bool = False) -> bytes:
        return json.dumps({**PROMPT, "model": self.model, "stream": stream}).encode()

    def connection(self) -> Connection:
        return Connection("127.0.0.1", self.port, self.headers)


async def sequential(target: Target, count: int, stream: bool) -> tuple[list[float], float]:
    """``count`` requests one after another: per-request latencies (or TTFTs), elapsed."""
    payload = target.payload(stream)
    marker = b"tok0" if stream else b""
    connection = target.connection()
    times = []
    started = time.perf_counter()
    for _ in range(count):
        first, total = await connection.post(target.path, payload, marker)
        times.append(first if stream else total)
    elapsed = time.perf_counter() - started
    await connection.close()
    return times, elapsed


async def concurrent(target: Target, workers: int, seconds: float) -> float:
    """Requests per second with ``workers`` connections busy for ``seconds``."""
    payload = target.payload()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        connection = target.connection()
        while time.perf_counter() < deadline:
            await connection.post(target.path, payload)
            done += 1
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - started)


# -- setting up ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def start_notewell(
    data_dir: Path, port: int, extra: dict[str, str] | None = None, tree: Path | None = None
) -> subprocess.Popen[bytes]:
    """``notewell serve`` on ``port``; from the checkout ``tree`` instead of the installed
    one when given (a ``notewell`` link to it, first on PYTHONPATH)."""
    limits = {
        "default": "100000000/minute",
        "auth": "1000/minute",
        "generation": "100000000/minute",
    }
    env = {
        **os.environ,
        "NOTEWELL_DATA_DIR": str(data_dir),
        "NOTEWELL_LOG_LEVEL": "WARNING",
        "NOTEWELL_PROVIDERS__LOCAL_MODELS": "false",
        "NOTEWELL_RATELIMIT__CLASSES": json.dumps(limits),
        "NOTEWELL_AUTH__DEFAULT_ROLE": "user",
        **(extra or {}),
    }
    if tree is not None:
        package = data_dir / "pythonpath"
        package.mkdir()
        (package / "notewell").symlink_to(tree.resolve(), target_is_directory=True)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "notewell.kernel.cli", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def setup(base: str, upstream_port: int, with_aiohttp: bool = False) -> str:
    """An admin, an API key and the upstream as a connection (``with_aiohttp``: also
    through the bench's aiohttp provider, its models prefixed ``aio/``); the key."""
    token = call(
        f"{base}/api/v1/auth/signup",
        {"email": "bench@example.com", "password": "correct horse battery"},
    )["token"]
    key = call(f"{base}/api/v1/auth/keys", {"name": "bench"}, token)["key"]
    url = f"http://127.0.0.1:{upstream_port}/v1"
    call(f"{base}/api/v1/connections", {"name": "bench", "type": "openai", "base_url": url}, token)
    if with_aiohttp:
        call(
            f"{base}/api/v1/connections",
            {"name": "bench-aiohttp", "type": "openai-aiohttp", "base_url": url, "prefix": "aio/"},
            token,
        )
    return str(key)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


# -- the run ---------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    targets: list[Target], server: psutil.Process, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Each measure for each target in turn, ``args.rounds`` times (so that the machine's
    changing load falls on all of them alike)."""
    results: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    for target in targets:  # warm up all (connections, caches)
        await sequential(target, 200, False)
        await sequential(target, 20, True)
    for _ in range(args.rounds):
        for target in targets:
            process = target.server or server
            before = cpu_seconds(process)
            latencies, elapsed = await sequential(target, args.requests, False)
            cpu = cpu_seconds(process) - before
            keep(f"{target.name}.p50", pct(latencies, 0.5) * 1e3)
            keep(f"{target.name}.p99", pct(latencies, 0.99) * 1e3)
            keep(f"{target.name}.rps1", args.requests / elapsed)
            keep(f"{target.name}.cpu1", cpu / args.requests * 1e3)
        for target in targets:
            process = target.server or server
            before = cpu_seconds(process)
            ttfts, _ = await sequential(target, args.streams, True)
            cpu = cpu_seconds(process) - before
            keep(f"{target.name}.ttft50", pct(ttfts, 0.5) * 1e3)
            keep(f"{target.name}.ttft99", pct(ttfts, 0.99) * 1e3)
            keep(f"{target.name}.cpu_stream", cpu / args.streams * 1e3)
        for target in targets:
            process = target.server or server
            before, started = cpu_seconds(process), time.perf_counter()
            rps = await concurrent(target, 32, args.seconds)
            cpu = cpu_seconds(process) - before
            keep(f"{target.name}.rps32", rps)
            keep(f"{target.name}.cpu32", cpu / (rps * (time.perf_counter() - started)) * 1e3)
    return results


def report(results: dict[str, list[float]], names: list[str]) -> None:
    med = {name: statistics.median(values) for name, values in results.items()}
    rows = [
        ("latency p50, c=1 (ms)", "p50", "diff"),
        ("latency p99, c=1 (ms)", "p99", "diff"),
        ("TTFT p50, 256-token stream (ms)", "ttft50", "diff"),
        ("TTFT p99, 256-token stream (ms)", "ttft99", "diff"),
        ("throughput c=1 (req/s)", "rps1", "ratio"),
        ("throughput c=32 (req/s)", "rps32", "ratio"),
    ]
    others = names[1:]
    header = "".join(f"{name:>14} {'added/ratio':>12}" for name in others)
    print(f"{'measure':34} {'direct':>10}{header}")
    for label, key, kind in rows:
        direct = med[f"direct.{key}"]
        line = f"{label:34} {direct:10.2f}"
        for name in others:
            value = med[f"{name}.{key}"]
            extra = f"+{value - direct:.2f}" if kind == "diff" else f"{value / direct:.1%}"
            line += f"{value:14.2f} {extra:>12}"
        print(line)
    print()
    for name in others:
        print(
            f"{name}: CPU per request {med[f'{name}.cpu1']:.2f} ms at c=1, "
            f"{med[f'{name}.cpu32']:.2f} ms at c=32 (non-streaming); "
            f"{med[f'{name}.cpu_stream']:.2f} ms per 256-token stream"
        )
    print(
        f"(medians of {len(results['direct.p50'])} rounds; CPU of direct rounds, the "
        f"server idling: {med['direct.cpu1']:.3f} ms per request)"
    )


BUDGETS = [  # docs/performance.md, "Gateway": (label, measure, at most / at least, limit)
    ("CPU per completion, c=1 (ms)", "cpu1", "max", 1.5),
    ("CPU per completion, c=32 (ms)", "cpu32", "max", 1.5),
    ("added latency p50, c=1 (ms)", "p50-added", "max", 2.0),
    ("TTFT overhead p50 (ms)", "ttft50-added", "max", 3.0),
    ("throughput c=32, share of direct", "rps32-ratio", "min", 0.25),
]


def verdict(results: dict[str, list[float]], name: str = "notewell") -> None:
    """Each budget, met or missed, from the medians of target ``name``."""
    med = {key: statistics.median(values) for key, values in results.items()}
    value = {
        "cpu1": med[f"{name}.cpu1"],
        "cpu32": med[f"{name}.cpu32"],
        "p50-added": med[f"{name}.p50"] - med["direct.p50"],
        "ttft50-added": med[f"{name}.ttft50"] - med["direct.ttft50"],
        "rps32-ratio": med[f"{name}.rps32"] / med["direct.rps32"],
    }
    print(f"\nbudgets ({name}):")
    for label, key, kind, limit in BUDGETS:
        met = value[key] <= limit if kind == "max" else value[key] >= limit
        bound = "<=" if kind == "max" else ">="
        print(f"  {label:34} {value[key]:8.3f}  {bound} {limit:<5}  {'met' if met else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=600, help="per latency round")
    parser.add_argument("--streams", type=int, default=100, help="per TTFT round")
    parser.add_argument("--seconds", type=float, default=4.0, help="per throughput round")
    parser.add_argument(
        "--upstream-kind",
        choices=sorted(UPSTREAMS),
        default="fastapi",
        help="FastAPI on uvicorn (vLLM's HTTP stack, the default), an aiohttp app, or raw "
        "asyncio (the fastest)",
    )
    parser.add_argument(
        "--compare-aiohttp",
        action="store_true",
        help="also go through a second connection speaking the same protocol over aiohttp "
        "(bench/plugins), to compare the providers plugin's HTTP layer with a bare client",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for notewell serve (to see what a part costs)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="also measure a server run from this checkout (column 'baseline'), same run",
    )
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        UPSTREAMS[args.upstream_kind](args.upstream)
        return
    upstream_port, notewell_port = free_port(), free_port()
    upstream = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--upstream",
            str(upstream_port),
            "--upstream-kind",
            args.upstream_kind,
        ]
    )
    extra = dict(item.split("=", 1) for item in args.server_env)
    if args.compare_aiohttp:
        extra["NOTEWELL_PLUGIN_DIRS"] = str(Path(__file__).parent / "plugins")
    with tempfile.TemporaryDirectory(prefix="notewell-bench-") as data_dir:
        server = start_notewell(Path(data_dir), notewell_port, extra)
        processes = [server, upstream]
        try:
            base = f"http://127.0.0.1:{notewell_port}"
            wait_for(f"{base}/health", server)
            wait_for(f"http://127.0.0.1:{upstream_port}/v1/models", upstream)
            key = setup(base, upstream_port, args.compare_aiohttp)
            bearer = {"Authorization": f"Bearer {key}"}
            path = "/v1/chat/completions"
            targets = [Target("direct", upstream_port, path, {})]
            if args.baseline_tree:
                baseline_port, baseline_dir = free_port(), Path(data_dir) / "baseline"
                baseline_dir.mkdir()
                baseline = start_notewell(baseline_dir, baseline_port, extra, args.baseline_tree)
                processes.append(baseline)
                baseline_base = f"http://127.0.0.1:{baseline_port}"
                wait_for(f"{baseline_base}/health", baseline)
                baseline_key = setup(baseline_base, upstream_port)
                targets.append(
                    Target(
                        "baseline",
                        baseline_port,
                        path,
                        {"Authorization": f"Bearer {baseline_key}"},
                        server=psutil.Process(baseline.pid),
                    )
                )
            targets.append(Target("notewell", notewell_port, path, bearer))
            if args.compare_aiohttp:
                targets.append(
                    Target("via aiohttp", notewell_port, path, bearer, model=f"aio/{MODEL}")
                )
            results = asyncio.run(measure(targets, psutil.Process(server.pid), args))
            print(f"upstream: {args.upstream_kind}; server environment: {extra or 'defaults'}")
            report(results, [target.name for target in targets])
            verdict(results)
        finally:
            for process in processes:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
