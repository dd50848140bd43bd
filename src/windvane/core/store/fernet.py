"""Encryption at rest of Connection passwords/extras and Variable values: Fernet with key rotation.

``[core] fernet_key`` is a comma-separated list of keys: the first encrypts, every one decrypts
(``cryptography``'s ``MultiFernet``), so a new key is put first, ``windvane rotate-fernet-key``
re-encrypts every row with it, and the old key can then be dropped. Without a key values are
stored as plain text (``is_encrypted`` false) and each write logs a warning: see
docs/connections.md#encryption for why no key is generated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from windvane.errors import ConfigError, StoreError

log = logging.getLogger("windvane.secrets")


class FernetCodec:
    """Encrypts with the first of ``keys``, decrypts with any; no keys: plain text."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self.keys = tuple(key.strip() for key in keys if key.strip())
        self._multi: Any = None
        if self.keys:
            from cryptography.fernet import Fernet, MultiFernet  # only processes that decrypt pay for it

            fernets = []
            for index, key in enumerate(self.keys, start=1):
                try:
                    fernets.append(Fernet(key.encode()))
                except (ValueError, TypeError) as exc:
                    raise ConfigError(
                        f"[core] fernet_key: key {index} of {len(self.keys)} is not a Fernet key "
                        f"(32 url-safe base64-encoded bytes): {exc}"
                    ) from None
            self._multi = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, text: str) -> FernetCodec:
        """The codec of ``[core] fernet_key`` (comma-separated)."""
        return cls(text.split(","))

    @property
    def enabled(self) -> bool:
        return self._multi is not None

    def encrypt(self, value: str | None, what: str) -> tuple[str | None, bool]:
        """``(stored text, is_encrypted)`` for ``value``; ``what`` names it in the warning."""
        if value is None:
            return None, self.enabled
        if self._multi is None:
            log.warning("%s is stored unencrypted: set [core] fernet_key to encrypt it at rest", what)
            return value, False
        return self._multi.encrypt(value.encode()).decode(), True

    def decrypt(self, stored: str | None, is_encrypted: bool, what: str) -> str | None:
        """The plain value of ``stored``; a StoreError naming ``what`` if no key can decrypt it."""
        if stored is None or not is_encrypted:
            return stored
        if self._multi is None:
            raise StoreError(f"{what} is encrypted but no [core] fernet_key is configured")
        from cryptography.fernet import InvalidToken

        try:
            return str(self._multi.decrypt(stored.encode()).decode())
        except InvalidToken:
            raise StoreError(
                f"{what} cannot be decrypted with any key of [core] fernet_key (was the key changed "
                "without keeping the old one after it?)"
            ) from None

    def rotate(self, stored: str | None, is_encrypted: bool, what: str) -> str | None:
        """``stored`` encrypted with the first key (plain text is encrypted now)."""
        if stored is None:
            return None
        if self._multi is None:
            raise ConfigError("rotating needs [core] fernet_key")
        if not is_encrypted:
            return str(self._multi.encrypt(stored.encode()).decode())
        try:
            return str(self._multi.rotate(stored.encode()).decode())
        except Exception:
            raise StoreError(f"{what} cannot be decrypted with any key of [core] fernet_key") from None
