"""Throwaway PostgreSQL and Redis servers started from the installed binaries.

Each starts on a free port in a temporary folder and is removed afterwards — also when
the test process is killed: a small watchdog process (:class:`Reaper`) stops the
server and removes its folder once its parent is gone. Set
``NOTEWELL_TEST_POSTGRES_URL`` / ``NOTEWELL_TEST_REDIS_URL`` to use existing servers
instead. Under ``CI=true`` a server that cannot start fails the run instead of skipping
(see ``notewell.testing.service_unavailable``).

PostgreSQL refuses to run as root; as root the cluster is created and run as the
``postgres`` OS user through ``runuser``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

START_ATTEMPTS = 3
"""Tries with a fresh port each, in case another process takes the free port first."""


class ServiceUnavailable(Exception):
    """The binaries are missing or the server did not come up."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Return once something accepts connections on ``port``; raise ServiceUnavailable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceUnavailable(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceUnavailable(f"nothing listening on port {port} after {timeout}s")


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise ServiceUnavailable(f"{name} is not installed")


_REAPER_SCRIPT = """
import json, os, shutil, signal, subprocess, sys
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
spec = json.loads(sys.argv[1])
if sys.stdin.readline().strip() == "done":
    sys.exit(0)
for command in spec["run"]:
    try:
        subprocess.run(command, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        pass
for pid in spec["kill"]:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
for path in spec["remove"]:
    shutil.rmtree(path, ignore_errors=True)
"""


class Reaper:
    """A watchdog process that cleans up after a server if this process dies first.

    It waits on a pipe from this process; :meth:`done` tells it all is clean. When the
    pipe closes without that (this process was killed), it runs ``run`` commands, kills
    ``kill`` PIDs (a negative one names a process group) and removes ``remove`` folders.
    It ignores SIGINT/SIGTERM and runs in its own session, so a signal to the whole test
    process group does not stop it.
    """

    def __init__(
        self,
        *,
        run: Sequence[Sequence[str]] = (),
        kill: Sequence[int] = (),
        remove: Sequence[Path] = (),
    ) -> None:
        spec = {
            "run": [list(command) for command in run],
            "kill": list(kill),
            "remove": [str(p) for p in remove],
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", _REAPER_SCRIPT, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def done(self) -> None:
        """Everything was cleaned up normally; let the watchdog exit without acting."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(b"done\n")
                self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _postgres_os_user() -> list[str]:
    """The command prefix that runs PostgreSQL's binaries as a user it accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable("running as root needs a `postgres` OS user") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("running as root needs `runuser` to start PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], timeout: float = 120) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=timeout)


def _failure(process_error: Exception) -> str:
    stderr = getattr(process_error, "stderr", None)
    detail = stderr.decode(errors="replace").strip() if isinstance(stderr, bytes) else ""
    return f"{process_error}{': ' + detail if detail else ''}"


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder (trust auth, fsync off)."""

    user = "notewell"

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
        self.as_user = _postgres_os_user()
        self.root = Path(tempfile.mkdtemp(prefix="notewell-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.reaper: Reaper | None = None

    @property
    def url(self) -> str:
        """``postgresql+asyncpg://`` URL of the ``postgres`` database."""
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Create the cluster and start it; raise ServiceUnavailable with the server's log."""
        self.reaper = Reaper(run=[self._stop_command()], remove=[self.root])
        try:
            if self.as_user:
                shutil.chown(self.root, "postgres")
            _run([*self.as_user, self.initdb, "-D", str(self.data), "-U", self.user,
                  "-A", "trust", "--no-sync", "-E", "UTF8"])  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServiceUnavailable(f"initdb failed: {_failure(exc)}") from exc
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            try:
                _run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-o", self._options(),
                      "-l", str(self.root / "log"), "-w", "-t", "60", "start"])  # fmt: skip
                return
            except (OSError, subprocess.SubprocessError) as exc:
                self.stop()  # pg_ctl may give up waiting on a server that still starts
                if attempt == START_ATTEMPTS:
                    raise ServiceUnavailable(
                        f"PostgreSQL did not start: {_failure(exc)}\n{self.log()}"
                    ) from exc

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )

    def _stop_command(self) -> list[str]:
        return [*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"]

    def log(self) -> str:
        """The server's log so far (empty when there is none)."""
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server if it runs (fast: ``-m immediate``)."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _run(self._stop_command(), timeout=60)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.reaper is not None:
            self.reaper.done()
            self.reaper = None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL (``postgresql+asyncpg://…``) of a fresh PostgreSQL cluster."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.close()


def _url(url: str, *, drivername: str | None = None, database: str | None = None) -> str:
    """``url`` with its driver and/or database replaced."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if drivername is not None:
        parsed = parsed.set(drivername=drivername)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def postgres_url(url: str) -> str:
    """``url`` with the asyncpg driver (``postgresql://`` and ``postgres://`` accepted)."""
    return _url(url, drivername="postgresql+asyncpg")


def _run_coroutine(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to the end, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # handed to the calling thread below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _admin(server_url: str, statement: str) -> None:
    import asyncpg

    async def execute() -> None:
        connection = await asyncpg.connect(_url(server_url, drivername="postgresql"), timeout=30)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    _run_coroutine(execute())


def create_database(server_url: str) -> str:
    """Create an empty database on the server; return its URL (asyncpg driver)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    return _url(server_url, drivername="postgresql+asyncpg", database=name)


def drop_database(database_url: str) -> None:
    """Drop the database ``database_url`` names, closing its open connections."""
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    _admin(
        _url(database_url, database="postgres"), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


class RedisServer:
    """A redis-server process that keeps nothing on disk; can be stopped and restarted."""

    def __init__(self) -> None:
        self.binary = _find_binary("redis-server")
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix="notewell-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.reaper: Reaper | None = None

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, on the same port) the server; raise ServiceUnavailable."""
        first = self.port == 0
        for attempt in range(1, START_ATTEMPTS + 1):
            if first:
                self.port = free_port()
            try:
                self._launch()
                return
            except ServiceUnavailable as exc:
                self.stop()
                if attempt == START_ATTEMPTS or not first:
                    log = (self.dir / "log").read_text(errors="replace")[-2000:]
                    raise ServiceUnavailable(f"Redis did not start: {exc}\n{log}") from exc

    def _launch(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.dir)]  # fmt: skip
        try:
            with (self.dir / "log").open("ab") as log:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ServiceUnavailable(f"cannot run {self.binary}: {exc}") from exc
        self.reaper = Reaper(kill=[self.process.pid], remove=[self.dir])
        wait_for_port(self.port, process=self.process)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); the folder stays."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.reaper is not None:
            self.reaper.done()
            self.reaper = None

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
