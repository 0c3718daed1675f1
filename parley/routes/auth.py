"""Every API route starts here: the version header is checked, then the caller identified."""

from __future__ import annotations

from fastapi import Request

from parley.domain.ports import Principal
from parley.routes.access import note_principal
from parley.services.auth import AuthService
from parley.services.validation import check_version


async def authenticate(auth: AuthService, request: Request) -> Principal:
    check_version(request.headers.get("anthropic-version"))
    principal = await auth.authenticate(
        request.headers.get("x-api-key"), request.headers.get("authorization")
    )
    note_principal(request, principal)
    return principal
