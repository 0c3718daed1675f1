"""Step 1 of the pipeline: who is calling. `x-api-key` wins when both headers arrive."""

from __future__ import annotations

from parley.domain.ports import Keys, Principal
from parley.errors import AuthenticationError, PermissionDeniedError


class AuthService:
    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    async def authenticate(self, x_api_key: str | None, authorization: str | None) -> Principal:
        # a bad key is named after the header it came in: a Bearer client never set an x-api-key
        secret, refusal = x_api_key, "invalid x-api-key"
        if not secret and authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                secret, refusal = token.strip(), "invalid API key in Authorization: Bearer"
        if not secret:
            raise AuthenticationError("x-api-key header is required")
        principal = await self._keys.authenticate(secret)
        if principal is None:
            raise AuthenticationError(refusal)
        return principal


def require_admin(principal: Principal, what: str) -> None:
    """Admin API endpoints answer admin keys only, as hosted (403 otherwise)."""
    if not principal.is_admin:
        raise PermissionDeniedError(f"{what} requires an admin key")


def require_workspace_key(principal: Principal) -> None:
    """Generation is billed to a workspace: admin keys, which belong to none, get 403."""
    if principal.is_admin:
        raise PermissionDeniedError(
            "admin keys cannot be used for the Messages API: use an API key of a workspace"
        )
