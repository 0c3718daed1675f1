"""Errors on the Vertex AI surface, in Google's shape: `{"error": {"code", "message",
"status"}}`, with the HTTP status Google uses for each canonical status."""

from __future__ import annotations

import json

from starlette.responses import Response

from parley.errors import ParleyError
from parley.routes.surfaces.common import kept_headers

# contract error type (ParleyError.error_type) -> (HTTP status, Google canonical status)
VERTEX_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "INVALID_ARGUMENT"),
    "authentication_error": (401, "UNAUTHENTICATED"),
    "billing_error": (403, "PERMISSION_DENIED"),
    "permission_error": (403, "PERMISSION_DENIED"),
    "not_found_error": (404, "NOT_FOUND"),
    "conflict_error": (409, "ABORTED"),
    "request_too_large": (400, "INVALID_ARGUMENT"),
    "rate_limit_error": (429, "RESOURCE_EXHAUSTED"),
    "api_error": (500, "INTERNAL"),
    "timeout_error": (504, "DEADLINE_EXCEEDED"),
    "overloaded_error": (503, "UNAVAILABLE"),
}


def vertex_error(exc: ParleyError, request_id: str | None) -> Response:
    status, canonical = VERTEX_ERRORS.get(exc.error_type, (500, "INTERNAL"))
    body = {"error": {"code": status, "message": exc.message, "status": canonical}}
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=kept_headers(exc),
    )
