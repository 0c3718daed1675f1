"""The one exception tree of Parley: each class carries its HTTP status and contract error type.

Nothing here knows about HTTP frameworks; `routes/errors.py` turns these into the envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ParleyError(Exception):
    """Base of every error a client may see; `status` and `error_type` follow the contract table."""

    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        if error_code is not None:
            self.details["error_code"] = error_code
        self.headers = dict(headers or {})


class InvalidRequestError(ParleyError):
    status = 400
    error_type = "invalid_request_error"


class RequestTimeoutError(InvalidRequestError):
    """A request whose body did not arrive in time (a 4xx the contract's table does not list,
    so its type is `invalid_request_error`)."""

    status = 408


class AuthenticationError(ParleyError):
    status = 401
    error_type = "authentication_error"


class BillingError(ParleyError):
    status = 402
    error_type = "billing_error"


class PermissionDeniedError(ParleyError):
    status = 403
    error_type = "permission_error"


class NotFoundError(ParleyError):
    status = 404
    error_type = "not_found_error"


class ConflictError(ParleyError):
    status = 409
    error_type = "conflict_error"


class RequestTooLargeError(ParleyError):
    status = 413
    error_type = "request_too_large"


class RateLimitError(ParleyError):
    status = 429
    error_type = "rate_limit_error"


class InternalServerError(ParleyError):
    status = 500
    error_type = "api_error"


class GatewayTimeoutError(ParleyError):
    status = 504
    error_type = "timeout_error"


class OverloadedError(ParleyError):
    status = 529
    error_type = "overloaded_error"


ERROR_CLASSES: tuple[type[ParleyError], ...] = (
    InvalidRequestError,
    RequestTimeoutError,
    AuthenticationError,
    BillingError,
    PermissionDeniedError,
    NotFoundError,
    ConflictError,
    RequestTooLargeError,
    RateLimitError,
    InternalServerError,
    GatewayTimeoutError,
    OverloadedError,
)
