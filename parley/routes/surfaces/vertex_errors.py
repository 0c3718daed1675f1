"""Errors on the Vertex AI surface, in Google's shape: `{"error": {"code", "message",
"status"}}`, with the HTTP status Google uses for each canonical status."""

from __future__ import annotations

import json

from starlette.responses import Response

from parley.errors import (
    AuthenticationError,
    BillingError,
    ConflictError,
    GatewayTimeoutError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    ParleyError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
)
from parley.routes.surfaces.common import kept_headers

# ParleyError class -> (HTTP status, Google canonical status)
VERTEX_ERRORS: dict[type[ParleyError], tuple[int, str]] = {
    InvalidRequestError: (400, "INVALID_ARGUMENT"),
    AuthenticationError: (401, "UNAUTHENTICATED"),
    BillingError: (403, "PERMISSION_DENIED"),
    PermissionDeniedError: (403, "PERMISSION_DENIED"),
    NotFoundError: (404, "NOT_FOUND"),
    ConflictError: (409, "ABORTED"),
    RequestTooLargeError: (400, "INVALID_ARGUMENT"),
    RateLimitError: (429, "RESOURCE_EXHAUSTED"),
    InternalServerError: (500, "INTERNAL"),
    GatewayTimeoutError: (504, "DEADLINE_EXCEEDED"),
    OverloadedError: (503, "UNAVAILABLE"),
}


def vertex_error(exc: ParleyError, request_id: str | None) -> Response:
    status, canonical = VERTEX_ERRORS.get(type(exc), (500, "INTERNAL"))
    body = {"error": {"code": status, "message": exc.message, "status": canonical}}
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=kept_headers(exc),
    )
