"""The AWS side of the Bedrock surface's edge: errors in AWS's REST-JSON shape (`{"message"}`
with the type in `x-amzn-ErrorType`), so boto3 and the Bedrock SDK raise their usual
exceptions, and the request as received, for the signature check."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.responses import Response

from parley.domain.sigv4 import ReceivedRequest
from parley.errors import AuthenticationError, ParleyError
from parley.routes.surfaces.common import kept_headers

# contract error type (ParleyError.error_type) -> (HTTP status, AWS error type)
BEDROCK_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "ValidationException"),
    "authentication_error": (403, "UnrecognizedClientException"),
    "billing_error": (403, "AccessDeniedException"),
    "permission_error": (403, "AccessDeniedException"),
    "not_found_error": (404, "ResourceNotFoundException"),
    "conflict_error": (409, "ConflictException"),
    "request_too_large": (400, "ValidationException"),
    "rate_limit_error": (429, "ThrottlingException"),
    "api_error": (500, "InternalServerException"),
    "timeout_error": (408, "ModelTimeoutException"),
    "overloaded_error": (503, "ServiceUnavailableException"),
}
# An AuthenticationError's error_code -> the AWS type of that signing failure
SIGNING_ERRORS = {
    "invalid_signature": "InvalidSignatureException",
    "incomplete_signature": "IncompleteSignatureException",
    "missing_authentication_token": "MissingAuthenticationTokenException",
}
# The exception members of Bedrock's response stream; other failures travel as the last one.
STREAM_EXCEPTIONS = (
    "internalServerException",
    "validationException",
    "throttlingException",
    "modelTimeoutException",
    "serviceUnavailableException",
    "modelStreamErrorException",
)


def aws_error(exc: ParleyError) -> tuple[int, str]:
    status, kind = BEDROCK_ERRORS.get(exc.error_type, BEDROCK_ERRORS["api_error"])
    if isinstance(exc, AuthenticationError):
        kind = SIGNING_ERRORS.get(str(exc.details.get("error_code")), kind)
    return status, kind


def bedrock_error(exc: ParleyError, request_id: str | None) -> Response:
    status, kind = aws_error(exc)
    headers = {"x-amzn-ErrorType": kind, **kept_headers(exc)}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return Response(
        json.dumps({"message": exc.message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def stream_exception(error_type: str) -> str:
    """The stream's exception member for a contract error type (`overloaded_error` ->
    `serviceUnavailableException`)."""
    kind = BEDROCK_ERRORS.get(error_type, BEDROCK_ERRORS["api_error"])[1]
    member = kind[0].lower() + kind[1:]
    return member if member in STREAM_EXCEPTIONS else STREAM_EXCEPTIONS[-1]


def received(request: Request, body: bytes) -> ReceivedRequest:
    """The request as its signer saw it: the path and query still percent-encoded."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return ReceivedRequest(
        method=request.method,
        raw_path=raw_path.split(b"?")[0].decode("latin-1"),
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
    )
