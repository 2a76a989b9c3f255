"""Encryption of X tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with
the key(s) in `MODSTREAM_X_TOKEN_KEY`. Several comma-separated keys rotate: the first encrypts,
every one decrypts (MultiFernet), so a new key goes first and the old one stays until every row
was rewritten (each token refresh rewrites its row).

In development only, with no key set, a key is derived from the development secret, so `make
run` works; the settings refuse that outside development once X is configured.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from infra.errors import ConfigError
from infra.settings import XSettings


class TokenCipher:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError("no X token key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(
        cls, settings: XSettings, development_secret: SecretStr | None
    ) -> TokenCipher:
        """The configured keys; with none, in development only (`development_secret` is then the
        login secret, None elsewhere), a key derived from that secret."""
        if settings.token_key is not None:
            raw = settings.token_key.get_secret_value().split(",")
            return cls([k.strip().encode() for k in raw if k.strip()])
        if development_secret is None:
            raise ConfigError("MODSTREAM_X_TOKEN_KEY must be set outside development")
        secret = development_secret.get_secret_value().encode()
        return cls([base64.urlsafe_b64encode(hashlib.sha256(b"x-token-key\0" + secret).digest())])

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(
                "an X token cannot be decrypted with MODSTREAM_X_TOKEN_KEY (a key was removed "
                "before its rows were rewritten?)"
            ) from exc
