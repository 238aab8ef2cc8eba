"""Token formats: session tokens, API keys, CSRF tokens and signed state blobs.

A session token is ``<session id>.<secret>.<signature>``: the signature (HMAC-SHA256
under a key derived from the server's secret) rejects forged tokens without a database
look-up, and the secret's SHA-256 is what the session row keeps, so a leaked table
yields no usable token. An API key is ``nw_<secret>``; only its SHA-256 is stored
(ample for 256 random bits). Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

API_KEY_PREFIX = "nw_"
_SESSION_TOKEN = re.compile(r"^([0-9a-z]{26})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$")
_API_KEY = re.compile(r"^nw_[A-Za-z0-9_-]{43}$")


class InvalidToken(Exception):
    """The token is malformed, forged or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of ``value``: how session secrets and API keys are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


class Signer:
    """Signs and checks tokens with keys derived from the server's secret key."""

    def __init__(self, secret_key: str) -> None:
        root = secret_key.encode()
        self._session_key = hmac.new(root, b"notewell.auth.session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(root, b"notewell.auth.csrf", hashlib.sha256).digest()
        self._blob_key = hmac.new(root, b"notewell.auth.blob", hashlib.sha256).digest()

    def _mac(self, key: bytes, message: str) -> str:
        return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())

    # -- sessions ------------------------------------------------------------------

    def new_session_token(self, session_id: str) -> tuple[str, str]:
        """A token for ``session_id`` and the hash of its secret to store."""
        secret = secrets.token_urlsafe(32)
        body = f"{session_id}.{secret}"
        return f"{body}.{self._mac(self._session_key, body)}", sha256_hex(secret)

    def parse_session_token(self, token: str) -> tuple[str, str]:
        """``(session id, secret hash)`` of a well-formed, correctly signed token."""
        match = _SESSION_TOKEN.match(token)
        if match is None:
            raise InvalidToken("malformed session token")
        session_id, secret, signature = match.groups()
        if not same(signature, self._mac(self._session_key, f"{session_id}.{secret}")):
            raise InvalidToken("bad signature")
        return session_id, sha256_hex(secret)

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to a session (signed double-submit)."""
        return self._mac(self._csrf_key, session_id)

    # -- signed blobs (OIDC login state) -------------------------------------------

    def sign_blob(self, data: dict[str, Any]) -> str:
        """``data`` with the time it was signed, as a tamper-proof string."""
        payload = _b64(json.dumps({"t": int(time.time()), "d": data}).encode())
        return f"{payload}.{self._mac(self._blob_key, payload)}"

    def unsign_blob(self, blob: str, max_age: int) -> dict[str, Any]:
        """The data of a blob signed at most ``max_age`` seconds ago."""
        payload, _, signature = blob.partition(".")
        if not signature or not same(signature, self._mac(self._blob_key, payload)):
            raise InvalidToken("bad signature")
        try:
            decoded = json.loads(_unb64(payload))
        except ValueError:
            raise InvalidToken("malformed") from None
        if time.time() - decoded["t"] > max_age:
            raise InvalidToken("expired")
        data: dict[str, Any] = decoded["d"]
        return data


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: ``(plaintext, sha256 hash, display prefix)``."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, sha256_hex(key), key[:10]


def api_key_hash(key: str) -> str:
    """The stored hash of a presented key; raises InvalidToken when malformed."""
    if _API_KEY.match(key) is None:
        raise InvalidToken("malformed API key")
    return _key_hash(key)


@functools.lru_cache(maxsize=1024)
def _key_hash(key: str) -> str:
    """A well-formed key's hash, remembered for the keys in use: making a SHA-256 context
    costs OpenSSL several microseconds, most of checking a key whose actor is cached."""
    return sha256_hex(key)
