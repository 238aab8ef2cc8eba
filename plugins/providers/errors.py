"""Errors a provider raises, mapped onto the kernel's error family.

Every upstream failure becomes a :class:`ProviderError` (or a subclass) with a stable
``code`` and the name of the connection it came from, so a person can tell *which*
upstream failed. Stream failures keep the text received so far in ``partial``.
"""

from __future__ import annotations

import logging
from typing import Any

from notewell.kernel.errors import (
    BadRequest,
    NotewellError,
    NotFound,
    TooManyRequests,
    Unprocessable,
)

log = logging.getLogger("notewell.providers")


class ProviderError(NotewellError):
    """An upstream model provider failed (502 unless a subclass says otherwise).

    ``connection`` names the connection; ``upstream_status`` is the upstream's HTTP
    status when there was one; ``partial`` is the text streamed before a failure.
    """

    status = 502
    default_code = "upstream_error"
    title = "Bad Gateway"

    def __init__(
        self,
        message: str,
        *,
        connection: str = "",
        upstream_status: int | None = None,
        partial: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, connection=connection or None, **kwargs)
        self.connection = connection
        self.upstream_status = upstream_status
        self.partial = partial


class UpstreamUnauthorized(ProviderError):
    """The upstream refused the connection's credentials (its 401/403), shown as 502."""

    default_code = "upstream_unauthorized"


class UpstreamRateLimited(TooManyRequests, ProviderError):
    """The upstream answered 429; its ``Retry-After`` is passed through in ``headers``."""

    default_code = "upstream_rate_limited"


class UpstreamTimeout(ProviderError):
    """The upstream did not answer (or stopped sending) in time (504)."""

    status = 504
    default_code = "upstream_timeout"
    title = "Gateway Timeout"


class UpstreamUnreachable(ProviderError):
    """The upstream could not be reached: refused, DNS, TLS (502)."""

    default_code = "upstream_unreachable"


class UpstreamBadRequest(BadRequest, ProviderError):
    """The upstream rejected the request itself (its 400/413/422): an over-long prompt (400)."""

    default_code = "upstream_rejected_request"


class UpstreamModelNotFound(NotFound, ProviderError):
    """The upstream does not know the model (its 404)."""

    default_code = "upstream_model_not_found"


class StreamBroken(ProviderError):
    """A stream ended early or carried something that is not the protocol (502).

    Codes: ``upstream_stream_broken`` (the connection dropped before the end marker)
    and ``upstream_malformed`` (garbage in the stream or body). ``partial`` keeps
    what had arrived.
    """

    default_code = "upstream_stream_broken"


class ProviderFailed(ProviderError):
    """A provider raised something that is not a :class:`ProviderError`: a bug in its
    plugin, most likely (502, ``provider_failed``). The exception itself is logged with
    its traceback, never shown: its message may hold anything."""

    default_code = "provider_failed"


def provider_failed(exc: Exception, source: str, partial: str = "") -> ProviderFailed:
    """``exc``, raised by the provider of ``source`` (a connection or a model), as the
    error callers get; logs it with its traceback."""
    log.error("the provider of %s raised %s", source, type(exc).__name__, exc_info=exc)
    return ProviderFailed(
        f"The model provider of {source} failed unexpectedly ({type(exc).__name__}).",
        partial=partial,
    )


class ModelNotFound(NotFound):
    """No enabled connection offers that model (404, ``model_not_found``)."""

    default_code = "model_not_found"


class ModelNotSupported(Unprocessable):
    """The model exists but cannot do what was asked (chat on an embedding model)."""

    default_code = "model_capability_missing"
