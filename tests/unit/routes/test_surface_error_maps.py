"""Each ParleyError in each surface's shape, read back by that cloud's own parser."""

from __future__ import annotations

import json

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.parsers import RestJSONParser

from parley.errors import (
    ERROR_CLASSES,
    AuthenticationError,
    OverloadedError,
    ParleyError,
    RateLimitError,
)
from parley.routes.surfaces.aws import BEDROCK_ERRORS, bedrock_error, stream_exception
from parley.routes.surfaces.vertex_errors import VERTEX_ERRORS, vertex_error

RUNTIME = ServiceModel(Loader().load_service_model("bedrock-runtime", "service-2"))
AWS_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    402: "AccessDeniedException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ValidationException",
    409: "ConflictException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    504: "ModelTimeoutException",
    529: "ServiceUnavailableException",
}


def botocore_parsed(exc: ParleyError) -> dict[str, object]:
    response = bedrock_error(exc, "req_1")
    parsed = RestJSONParser().parse(
        {
            "status_code": response.status_code,
            "headers": dict(response.headers),
            "body": bytes(response.body),
        },
        RUNTIME.operation_model("InvokeModel").output_shape,
    )
    return parsed


def test_every_error_class_has_a_shape_on_each_surface() -> None:
    types = {cls.error_type for cls in ERROR_CLASSES}
    assert set(BEDROCK_ERRORS) == types == set(VERTEX_ERRORS)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_botocore_reads_each_error_as_its_aws_type(cls: type[ParleyError]) -> None:
    parsed = botocore_parsed(cls("what went wrong"))
    assert parsed["Error"] == {"Code": AWS_TYPES[cls.status], "Message": "what went wrong"}
    metadata = parsed["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == BEDROCK_ERRORS[cls.error_type][0]  # type: ignore[index]
    assert metadata["RequestId"] == "req_1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "aws_type"),
    [
        ("invalid_signature", "InvalidSignatureException"),
        ("incomplete_signature", "IncompleteSignatureException"),
        ("missing_authentication_token", "MissingAuthenticationTokenException"),
    ],
)
def test_signing_failures_keep_their_aws_types(code: str, aws_type: str) -> None:
    parsed = botocore_parsed(AuthenticationError("no", error_code=code))
    assert parsed["Error"] == {"Code": aws_type, "Message": "no"}


def test_a_throttled_request_keeps_retry_after_but_no_first_party_headers() -> None:
    exc = RateLimitError(
        "slow down", headers={"retry-after": "7", "anthropic-ratelimit-requests-limit": "5"}
    )
    for response in (bedrock_error(exc, None), vertex_error(exc, None)):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert "anthropic-ratelimit-requests-limit" not in response.headers


@pytest.mark.parametrize(
    ("cls", "status", "canonical"),
    [(RateLimitError, 429, "RESOURCE_EXHAUSTED"), (OverloadedError, 503, "UNAVAILABLE")],
)
def test_vertex_errors_take_googles_shape(
    cls: type[ParleyError], status: int, canonical: str
) -> None:
    response = vertex_error(cls("busy"), "req_1")
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == {
        "error": {"code": status, "message": "busy", "status": canonical}
    }


@pytest.mark.parametrize(
    ("error_type", "member"),
    [
        ("overloaded_error", "serviceUnavailableException"),
        ("rate_limit_error", "throttlingException"),
        ("invalid_request_error", "validationException"),
        ("api_error", "internalServerException"),
        ("timeout_error", "modelTimeoutException"),
        ("not_found_error", "modelStreamErrorException"),
        ("no_such_type", "internalServerException"),
    ],
)
def test_a_mid_stream_error_becomes_a_member_of_the_response_stream(
    error_type: str, member: str
) -> None:
    assert stream_exception(error_type) == member
    assert member in RUNTIME.shape_for("ResponseStream").members
