"""The console's session cookie and CSRF tokens.

The cookie holds the admin key's secret sealed (AES-GCM) under a key derived from the server's
key, with its expiry: every request authenticates the key again, so disabling it ends its
sessions at once, and no session table is needed. The CSRF token of a session is an HMAC of
its cookie; before sign-in, of a random value in a cookie of its own (double submit)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from parley.domain.sealing import Sealer, SealError

COOKIE = "parley_console"
PRE_COOKIE = "parley_console_signin"
LIFETIME_SECONDS = 12 * 3600
_CONTEXT = b"parley console session"


def _derive(server_key: bytes, purpose: bytes) -> bytes:
    return hmac.new(server_key, purpose, hashlib.sha256).digest()


class Sessions:
    def __init__(self, server_key: bytes) -> None:
        self._sealer = Sealer(_derive(server_key, b"console session seal"))
        self._csrf_key = _derive(server_key, b"console csrf")

    def issue(self, secret: str, now: float) -> str:
        payload = json.dumps({"key": secret, "expires": now + LIFETIME_SECONDS}).encode()
        return base64.urlsafe_b64encode(self._sealer.seal(payload, _CONTEXT)).decode()

    def secret(self, cookie: str | None, now: float) -> str | None:
        """The admin key's secret of a valid, unexpired cookie; None otherwise."""
        if not cookie:
            return None
        try:
            payload = json.loads(self._sealer.open(base64.urlsafe_b64decode(cookie), _CONTEXT))
        except (SealError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("expires", 0) <= now:
            return None
        key = payload.get("key")
        return key if isinstance(key, str) else None

    def csrf(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        return hmac.compare_digest(self.csrf(cookie), token)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)
