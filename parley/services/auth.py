"""Step 1 of the pipeline: who is calling. `x-api-key` wins when both headers arrive."""

from __future__ import annotations

from parley.domain.ports import Keys, Principal
from parley.errors import AuthenticationError, PermissionDeniedError


class AuthService:
    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    async def authenticate(self, x_api_key: str | None, authorization: str | None) -> Principal:
        secret, header = x_api_key, "x-api-key"
        if not secret and authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                secret, header = token.strip(), "Authorization: Bearer"
        if not secret:
            raise AuthenticationError("x-api-key header is required")
        principal = await self._keys.authenticate(secret)
        if principal is None:
            # named after the header the key came in, so a Bearer client is not sent looking
            # for an x-api-key it never set
            raise AuthenticationError(
                f"invalid {header}" if header == "x-api-key" else f"invalid API key in {header}"
            )
        return principal


def require_admin(principal: Principal, what: str) -> None:
    """Admin API endpoints answer admin keys only, as hosted (403 otherwise)."""
    if not principal.is_admin:
        raise PermissionDeniedError(f"{what} requires an admin key")
