"""The API reference at /api/docs works offline: Swagger UI comes from the server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_api_docs_render_with_only_same_origin_requests(server, page):
    origin = urlsplit(server.url).netloc
    elsewhere: list[str] = []

    def only_this_server(route):
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:  # as on a machine without internet access
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server.url + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Notewell")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert elsewhere == []
