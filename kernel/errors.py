"""The one error family. Raise these anywhere; the kernel renders them as problem+json.

``code`` is a stable snake_case string clients match on; ``message`` is for people.
Extra keyword arguments become extension members of the problem document
(for example ``errors=[...]`` on a validation failure).
"""

from __future__ import annotations

from typing import Any, ClassVar


class NotewellError(Exception):
    """Base of every error Notewell reports to a client."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        if status is not None:
            self.status = status  # type: ignore[misc]
        self.headers = headers or {}
        self.extra = extra


class BadRequest(NotewellError):
    """The request is malformed (400)."""

    status = 400
    default_code = "bad_request"
    title = "Bad Request"


class Unauthorized(NotewellError):
    """No valid credentials were presented (401)."""

    status = 401
    default_code = "unauthorized"
    title = "Unauthorized"


class PaymentRequired(NotewellError):
    """A quota or balance is exhausted (402)."""

    status = 402
    default_code = "payment_required"
    title = "Payment Required"


class Forbidden(NotewellError):
    """The actor is known but may not do this (403)."""

    status = 403
    default_code = "forbidden"
    title = "Forbidden"


class NotFound(NotewellError):
    """No such resource, or none the actor may see (404)."""

    status = 404
    default_code = "not_found"
    title = "Not Found"


class MethodNotAllowed(NotewellError):
    """The resource exists but not with this method (405)."""

    status = 405
    default_code = "method_not_allowed"
    title = "Method Not Allowed"


class Conflict(NotewellError):
    """The request conflicts with the resource's current state (409)."""

    status = 409
    default_code = "conflict"
    title = "Conflict"


class PayloadTooLarge(NotewellError):
    """The body is over the configured limit (413)."""

    status = 413
    default_code = "payload_too_large"
    title = "Payload Too Large"


class UnsupportedMediaType(NotewellError):
    """The body's content type is not one the route accepts (415)."""

    status = 415
    default_code = "unsupported_media_type"
    title = "Unsupported Media Type"


class Unprocessable(NotewellError):
    """The body is well-formed but its content is invalid (422)."""

    status = 422
    default_code = "validation_failed"
    title = "Unprocessable Content"


class TooManyRequests(NotewellError):
    """A rate limit was hit (429); set ``Retry-After`` through ``headers``."""

    status = 429
    default_code = "rate_limited"
    title = "Too Many Requests"


class ServiceUnavailable(NotewellError):
    """A dependency the request needs is down (503)."""

    status = 503
    default_code = "service_unavailable"
    title = "Service Unavailable"


_BY_STATUS: dict[int, type[NotewellError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        PaymentRequired,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
        ServiceUnavailable,
    )
}


def error_for_status(status: int, message: str, **kwargs: Any) -> NotewellError:
    """The error class that fits an HTTP status, for translating framework errors."""
    cls = _BY_STATUS.get(status, NotewellError)
    return cls(message, status=status, **kwargs)


class StartupError(Exception):
    """Start-up cannot go on: bad settings, a missing plugin folder, an unreachable database.

    The CLI prints the message alone (no traceback) and exits non-zero.
    """
