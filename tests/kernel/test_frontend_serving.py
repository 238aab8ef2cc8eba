"""The kernel serves the built web app at / (kernel/defaults/frontend.py)."""

from __future__ import annotations

import re

import pytest

from notewell.kernel.defaults import frontend

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
INDEX = b"<!doctype html><html><head><script>var theme = 1;</script></head><body>app</body></html>"


@pytest.fixture
def build(tmp_path, monkeypatch):
    """A stand-in build: index.html, one hashed asset and a root file."""
    root = tmp_path / "app"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('hi')")
    (root / "favicon.svg").write_text("<svg/>")
    monkeypatch.setattr(frontend, "BUILD_DIR", root)
    return root


async def test_index_is_revalidated_and_allows_only_its_own_inline_script(bare_app, build):
    response = await bare_app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_data() == INDEX
    assert response.headers["Cache-Control"] == "no-cache"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp
    assert "unsafe-eval" not in csp and "object-src 'none'" in csp


async def test_hashed_assets_are_cached_for_good(bare_app, build):
    response = await bare_app.test_client().get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.content_type


async def test_missing_asset_is_a_404_not_the_app(bare_app, build):
    response = await bare_app.test_client().get("/assets/nope.js", headers=BROWSER)
    assert response.status_code == 404


async def test_app_paths_fall_back_to_index_for_browsers(bare_app, build):
    client = bare_app.test_client()
    for path in ("/runs/01ABC", "/admin/users", "/settings/keys", "/chat"):
        response = await client.get(path, headers=BROWSER)
        assert response.status_code == 200, path
        assert await response.get_data() == INDEX
        assert response.headers["Cache-Control"] == "no-cache"


async def test_root_files_of_the_build_are_served(bare_app, build):
    response = await bare_app.test_client().get("/favicon.svg", headers=BROWSER)
    assert response.status_code == 200
    assert await response.get_data() == b"<svg/>"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api", "/v1/models/x", "/health/x", "/ready/x"])
async def test_server_paths_never_fall_back(bare_app, build, path):
    response = await bare_app.test_client().get(path, headers=BROWSER)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert (await response.get_json())["code"] == "route_not_found"


def test_socket_io_paths_are_not_app_paths():
    converter = frontend.AppPathConverter.regex
    assert not re.fullmatch(converter, "socket.io/anything")
    assert not re.fullmatch(converter, "openapi.json")
    assert re.fullmatch(converter, "socket.iox")


async def test_unknown_api_post_stays_404_not_405(bare_app, build):
    response = await bare_app.test_client().post("/api/v1/nope", json={})
    assert response.status_code == 404


async def test_api_clients_get_problem_json_for_unknown_paths(bare_app, build):
    response = await bare_app.test_client().get("/some/where", headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "route_not_found"


async def test_without_a_build_the_root_says_how_to_build(bare_app, tmp_path, monkeypatch):
    monkeypatch.setattr(frontend, "BUILD_DIR", tmp_path / "missing")
    response = await bare_app.test_client().get("/")
    assert response.status_code == 503
    assert "scripts/build-frontend.sh" in (await response.get_data()).decode()


async def test_frontend_routes_are_public_and_left_out_of_the_api_document(bare_app, build):
    document = await (await bare_app.test_client().get("/openapi.json")).get_json()
    assert "/" not in document["paths"]
    assert not [path for path in document["paths"] if "app_path" in path or "assets" in path]
    assert "/" not in bare_app.kernel.unpoliced_routes


def _same_origin_refs(html: str) -> list[str]:
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert refs, html
    return refs


async def test_api_docs_load_swagger_ui_from_the_build(make_app, tmp_path, monkeypatch):
    root = tmp_path / "app"
    folder = root / "assets" / "swagger-ui-5.35.0"
    folder.mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (folder / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = function () {};")
    (folder / "swagger-ui.css").write_text(".swagger-ui {}")
    monkeypatch.setattr(frontend, "BUILD_DIR", root)
    async with make_app(plugins=[]) as app:
        client = app.test_client()
        page = (await (await client.get("/api/docs")).get_data()).decode()
        refs = _same_origin_refs(page)
        assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
        assert "/assets/swagger-ui-5.35.0/swagger-ui-bundle.js" in refs
        assert "/assets/swagger-ui-5.35.0/swagger-ui.css" in refs
        for ref in refs:
            response = await client.get(ref)
            assert response.status_code == 200, ref
            assert response.headers["Cache-Control"] == frontend.IMMUTABLE


async def test_without_a_build_api_docs_keep_the_defaults(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(frontend, "BUILD_DIR", tmp_path / "missing")
    async with make_app(plugins=[]) as app:
        assert app.config["QUART_SCHEMA_SWAGGER_JS_URL"].startswith("https://")


def test_the_real_build_carries_swagger_ui():
    if not (frontend.BUILD_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built here (scripts/build-frontend.sh)")
    urls = frontend.swagger_ui_urls(frontend.BUILD_DIR)
    assert urls is not None, "the build has no assets/swagger-ui-*/ (frontend/swagger-ui.ts)"
    for url in urls:
        assert (frontend.BUILD_DIR / url.lstrip("/")).stat().st_size > 1000
