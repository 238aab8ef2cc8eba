"""Start-up time and idle memory of `notewell serve` against a bare ASGI app under uvicorn
(the server `notewell serve` runs).

Measures, for each server, the time from launching the process to the first 200 from
its health URL, and the resident memory (RSS) once idle. Runs each several times on
this machine, in this run, and prints medians and the ratio Notewell / bare.

Budget (docs/performance.md): under 2 s to /health and under 150 MB idle RSS.

    .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import psutil

BARE_APP = textwrap.dedent("""
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(command: list[str], url: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds until ``url`` answers 200, and idle RSS in MB (process tree)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        elapsed = time.perf_counter() - started
        time.sleep(2.0)  # let it settle to idle
        parent = psutil.Process(process.pid)
        rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        return elapsed, rss / 1e6
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    notewell = str(Path(python).parent / "notewell")
    results: dict[str, list[tuple[float, float]]] = {"notewell": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        bare_dir = Path(tmp) / "bare"
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(BARE_APP)
        for run in range(args.runs):
            port = free_port()
            env = {
                **os.environ,
                "NOTEWELL_DATA_DIR": f"{tmp}/data{run}",
                "NOTEWELL_LOG_LEVEL": "WARNING",
            }
            results["notewell"].append(
                measure(
                    [notewell, "serve", "--port", str(port)], f"http://127.0.0.1:{port}/health", env
                )
            )
            port = free_port()
            results["bare"].append(
                measure(
                    [python, "-m", "uvicorn", "--port", str(port), "bare_app:app"],
                    f"http://127.0.0.1:{port}/",
                    {**os.environ, "PYTHONPATH": str(bare_dir)},
                )
            )
    report(results)


def report(results: dict[str, list[tuple[float, float]]]) -> None:
    rows = {}
    for name, samples in results.items():
        rows[name] = (
            statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples),
        )
    print(f"{'server':<10} {'to /health (s)':>15} {'idle RSS (MB)':>14}")
    for name, (seconds, rss) in rows.items():
        print(f"{name:<10} {seconds:>15.3f} {rss:>14.1f}")
    (n_time, n_rss), (b_time, b_rss) = rows["notewell"], rows["bare"]
    print(f"ratio notewell/bare: start {n_time / b_time:.2f}x, memory {n_rss / b_rss:.2f}x")
    print(
        f"budget: start < 2 s: {'ok' if n_time < 2 else 'OVER'}; "
        f"idle RSS < 150 MB: {'ok' if n_rss < 150 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
