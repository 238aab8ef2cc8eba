"""Notewell's kernel: the small core every feature plugs into.

Importing this package does no I/O and builds nothing; :func:`create_app` in
``notewell.kernel.app`` does the building. The names re-exported here are the public
API plugins may use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from notewell.kernel.actor import ANONYMOUS, SYSTEM, Actor
from notewell.kernel.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotewellError,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from notewell.kernel.hookspecs import hookimpl

__all__ = [
    "ANONYMOUS",
    "SYSTEM",
    "Actor",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "NotewellError",
    "PayloadTooLarge",
    "PaymentRequired",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "__version__",
    "hookimpl",
]
