"""The default error renderer: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import json
from typing import Any

from quart import Response, g

from notewell.kernel.errors import NotewellError
from notewell.kernel.hookspecs import hookimpl

PROBLEM_TYPE_BASE = "https://notewell.dev/problems/"


def problem_document(error: NotewellError, request_id: str | None) -> dict[str, Any]:
    """The problem+json body for ``error``."""
    document: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.message,
        "code": error.code,
        "request_id": request_id,
    }
    document.update(error.extra)
    return document


@hookimpl(trylast=True)
def response_from_error(request: Any, error: NotewellError) -> Response:
    body = problem_document(error, getattr(g, "request_id", None))
    response = Response(
        json.dumps(body, default=str), status=error.status, content_type="application/problem+json"
    )
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
