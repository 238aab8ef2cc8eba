"""API keys encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from the kernel's secret key with HKDF-SHA256, so no second secret has to be kept."""

from __future__ import annotations

import base64

from notewell.plugins.providers.errors import ProviderError

_INFO = b"notewell.providers.connection-api-key.v1"


class KeyUnreadable(ProviderError):
    """A stored API key cannot be decrypted (the secret key changed): re-enter it."""

    default_code = "connection_key_unreadable"


class KeyBox:
    """Encrypts and decrypts connection API keys."""

    def __init__(self, secret_key: str) -> None:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        """The key as an opaque token fit for the database."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str, *, connection: str = "") -> str:
        """The key back; raises :class:`KeyUnreadable` when the token does not open."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyUnreadable(
                f"The API key of connection {connection!r} cannot be decrypted (was the "
                "secret key changed?); enter it again.",
                connection=connection,
            ) from None
