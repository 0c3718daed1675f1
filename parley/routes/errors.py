"""Every error leaves as the contract's envelope, with the request id in body and header."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from parley.errors import (
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    ParleyError,
    RequestTooLargeError,
)

log = logging.getLogger(__name__)


def envelope(exc: ParleyError, request_id: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": exc.error_type, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return {"type": "error", "error": error, "request_id": request_id}


def error_response(exc: ParleyError, request_id: str | None) -> Response:
    return Response(
        content=json.dumps(envelope(exc, request_id)),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def parley_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParleyError)
    return error_response(exc, request_id_of(request))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        error: ParleyError = NotFoundError(f"Not found: {request.method} {request.url.path}")
    elif exc.status_code == 413:
        error = RequestTooLargeError("Request exceeds the maximum allowed number of bytes")
    elif exc.status_code < 500:
        error = InvalidRequestError(str(exc.detail))
    else:
        error = InternalServerError("Internal server error")
    return error_response(error, request_id_of(request))
