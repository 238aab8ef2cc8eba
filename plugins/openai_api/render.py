"""Errors in OpenAI's shape for everything under ``/v1``:
``{"error": {"message", "type", "param", "code"}}`` with the error's HTTP status, so that
OpenAI's client libraries raise their matching exceptions."""

from __future__ import annotations

import json
from typing import Any

from quart import Response

from notewell.kernel.errors import NotewellError

API_PREFIX = "/v1/"

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    """OpenAI's ``type`` for an HTTP status."""
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def error_body(error: NotewellError) -> dict[str, Any]:
    """The error as OpenAI writes it."""
    return {
        "error": {
            "message": error.message,
            "type": error_type(error.status),
            "param": error.extra.get("param"),
            "code": error.code,
        }
    }


def error_response(error: NotewellError) -> Response:
    """``error`` as an OpenAI-shaped JSON response (its headers, e.g. Retry-After, kept)."""
    response = Response(
        json.dumps(error_body(error)), status=error.status, content_type="application/json"
    )
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
