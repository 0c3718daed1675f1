"""Secrets kept at rest (AWS secret access keys, conversations held for threads in Redis) are
sealed with the server's key: AES-256-GCM, a fresh nonce per seal, and a context bound into
the tag so a sealed value cannot be moved to another record."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that was altered, sealed under another key, or for another context."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the server key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """`context` (a record's id, say) must be given again to open the value."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, context)
        except (InvalidTag, ValueError):
            raise SealError("the sealed value cannot be opened with this key") from None


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)
