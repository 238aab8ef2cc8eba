"""Browser end-to-end fixtures: a real ``notewell serve`` and headless Chromium.

- ``server_factory`` starts ``notewell serve`` as a subprocess on a free port with a
  temporary ``NOTEWELL_DATA_DIR``; ``server`` is one per test module, ``fresh_server`` one
  per test (for first-run behaviour).
- ``browser`` is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright's Python
  package; ``page`` is a fresh context and page per test.
- A failing test saves a screenshot of every page it opened into a temporary folder,
  named in the failure report.
- With ``NOTEWELL_UI_SCREENSHOTS=1`` the tests also refresh the screenshots in
  ``docs/images/`` that docs/ui.md shows (``snap`` fixture).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import PASSWORD

from notewell.testing import service_unavailable

# these machines are shared and often loaded: give web assertions time, not flakiness
try:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
except ImportError:  # the browser tests skip (or fail under CI) on their own
    pass

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "e2e-secret-key-only-for-browser-tests-0123456789"
FAILURE_SHOTS = Path(tempfile.gettempdir()) / "notewell-e2e-failures"
DOCS_IMAGES = ROOT / "docs" / "images"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``notewell serve``; ``api(...)`` calls it over HTTP as some account."""

    url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        return client

    def signed_in(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """An HTTP client with the session cookie and CSRF header of ``email``."""
        client = self.client()
        response = client.post("/api/v1/auth/signin", json={"email": email, "password": password})
        response.raise_for_status()
        client.headers["X-CSRF-Token"] = client.cookies["notewell_csrf"]
        return client

    def ensure_admin(self, email: str = "admin@example.org", name: str = "Ada Admin") -> str:
        """Create the first (admin) account through the API unless one exists."""
        client = self.client()
        if client.get("/api/v1/auth/config").json()["has_users"]:
            return email
        response = client.post(
            "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": name}
        )
        response.raise_for_status()
        assert response.json()["user"]["role"] == "admin"
        return email

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def frontend_build() -> Path:
    """The built web UI (scripts/build-frontend.sh: fast when nothing changed)."""
    script = ROOT / "scripts" / "build-frontend.sh"
    try:
        result = subprocess.run(
            [str(script)], cwd=ROOT, capture_output=True, text=True, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        service_unavailable("the web UI build", exc)
    index = ROOT / "kernel" / "static" / "app" / "index.html"
    if result.returncode != 0 or not index.is_file():
        service_unavailable(
            "the web UI build",
            RuntimeError(f"exit {result.returncode}: {result.stderr[-2000:]}"),
        )
    return index.parent


@pytest.fixture(scope="session")
def server_factory(
    frontend_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def start() -> Server:
        data_dir = tmp_path_factory.mktemp("notewell-data")
        port = _free_port()
        log = data_dir / "serve.log"
        env = {
            **os.environ,
            "NOTEWELL_DATA_DIR": str(data_dir),
            "NOTEWELL_SECRET_KEY": SECRET,
            "NOTEWELL_LOG_FORMAT": "console",
            "NOTEWELL_LOG_LEVEL": "INFO",
            "NOTEWELL_WORKER_POOL_SIZE": "1",
        }
        env.pop("NOTEWELL_DATABASE_URL", None)
        env.pop("NOTEWELL_REDIS_URL", None)
        command = [
            sys.executable,
            "-m",
            "notewell.kernel.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=data_dir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        server = Server(f"http://127.0.0.1:{port}", data_dir, log, process)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"notewell serve exited with {process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    return server
            time.sleep(0.25)
        pytest.fail(f"notewell serve did not answer /health in 60 s:\n{server.log_tail()}")

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(server_factory: Callable[[], Server]) -> Server:
    """One server for the tests of a module (they share its accounts)."""
    return server_factory()


@pytest.fixture(scope="module")
def admin_api(server: Server) -> httpx.Client:
    """An HTTP client signed in as the module server's admin (created if need be)."""
    return server.signed_in(server.ensure_admin())


@pytest.fixture
def fresh_server(server_factory: Callable[[], Server]) -> Iterator[Server]:
    """A server with an empty database, for first-run behaviour."""
    started = server_factory()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        service_unavailable("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium)"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_unavailable("Playwright (pip install playwright)", exc)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts (separate cookies, like separate people)."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_page(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: _unexpected_dialog(request, dialog))
        pages.append(page)
        return page

    request.node.e2e_pages = pages
    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


def _unexpected_dialog(request: pytest.FixtureRequest, dialog: Any) -> None:
    # an alert() means script from data ran: record it and fail the test afterwards
    request.node.e2e_dialogs = [*getattr(request.node, "e2e_dialogs", []), dialog.message]
    dialog.dismiss()


@pytest.fixture(autouse=True)
def _no_script_dialogs(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    dialogs = getattr(request.node, "e2e_dialogs", [])
    assert not dialogs, f"a page opened a JavaScript dialog: {dialogs}"


@pytest.fixture
def snap() -> Callable[[Any, str], None]:
    """Save a screenshot for docs/ui.md when NOTEWELL_UI_SCREENSHOTS=1."""
    enabled = os.environ.get("NOTEWELL_UI_SCREENSHOTS", "") in {"1", "true", "yes"}

    def take(page: Any, name: str, full_page: bool = False) -> None:
        if not enabled:
            return
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        if full_page:  # the app scrolls inside <main>: grow the window to fit it instead
            height = page.evaluate("document.getElementById('main')?.scrollHeight ?? 0")
            page.set_viewport_size({"width": size["width"], "height": min(2400, height + 80)})
        page.wait_for_timeout(300)  # let layout settle
        page.screenshot(path=str(DOCS_IMAGES / f"{name}.png"))
        page.set_viewport_size(size)

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    pages = getattr(item, "e2e_pages", None)
    if report.when != "call" or not report.failed or not pages:
        return
    folder = FAILURE_SHOTS / item.name.replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, page in enumerate(pages):
        path = folder / f"page-{index}.png"
        with contextlib.suppress(Exception):  # a crashed page has no picture to give
            page.screenshot(path=str(path), full_page=True)
            saved.append(f"{path} ({page.url})")
    message = "screenshots of the failing test's pages:\n  " + "\n  ".join(saved or ["none"])
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection("e2e screenshots", message)
    else:
        report.sections.append(("e2e screenshots", message))
