"""SigV4 verification against requests signed by botocore's own signer, as boto3 and the
Bedrock SDK sign them."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from parley.domain.sigv4 import (
    ReceivedRequest,
    parse_authorization,
    remove_dot_segments,
    verify,
)
from parley.errors import AuthenticationError

ACCESS_KEY = "AKIAEXAMPLEEXAMPLE00"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BODY = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":1,"messages":[]}'
# botocore's encoding of a Bedrock model id in the path: `:` becomes %3A, `/` %2F
PROFILE_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"


def signed(
    url: str = "http://127.0.0.1:8787" + PROFILE_PATH,
    *,
    body: bytes = BODY,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "bedrock",
    token: str | None = None,
    method: str = "POST",
    extra: dict[str, str] | None = None,
) -> ReceivedRequest:
    """Signed by botocore now, then seen as a server sees it: the path and query as sent."""
    headers = {"content-type": "application/json", **(extra or {})}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, secret, token), service, region).add_auth(request)
    parts = urlsplit(url)
    headers = [(name.lower(), value) for name, value in request.prepare().headers.items()]
    return ReceivedRequest(
        method=method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers=[("host", parts.netloc), *headers],
        body=body,
    )


def check(request: ReceivedRequest, *, now: float | None = None, secret: str = SECRET) -> None:
    credential = parse_authorization(request.header("authorization") or "")
    verify(credential, secret, request, time.time() if now is None else now, "bedrock")


def error_of(request: ReceivedRequest, **kwargs: object) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as raised:
        check(request, **kwargs)
    return raised.value


@pytest.mark.parametrize(
    "path",
    [
        PROFILE_PATH,
        "/model/smollm2/invoke-with-response-stream",
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fanthropic.x-v1%3A0/invoke",
        "/bedrock/eu-west-1/model/eu.anthropic.x-v1:0/invoke",
        "/model/name%20with%20spaces/invoke",
    ],
)
def test_a_botocore_signature_verifies(path: str) -> None:
    check(signed("http://127.0.0.1:8787" + path))


def test_a_signed_query_string_verifies_in_any_order() -> None:
    check(signed("http://h/inference-profiles?type=SYSTEM_DEFINED&maxResults=5", method="GET"))


def test_a_session_token_is_signed_and_accepted() -> None:
    request = signed(token="session-token")
    assert request.header("x-amz-security-token") == "session-token"
    check(request)


def test_a_signature_dated_by_the_date_header_verifies() -> None:
    request = signed(extra={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})  # botocore re-dates it
    assert request.header("x-amz-date") is None and request.header("date") is not None
    check(request)


def test_the_scope_is_read_from_the_authorization_header() -> None:
    credential = parse_authorization(signed(region="eu-west-1").header("authorization") or "")
    assert (credential.access_key_id, credential.region, credential.service) == (
        ACCESS_KEY,
        "eu-west-1",
        "bedrock",
    )
    assert "host" in credential.signed_headers and "x-amz-date" in credential.signed_headers


def test_a_forged_signature_is_refused() -> None:
    error = error_of(signed(secret="not-the-secret"))
    assert error.details["error_code"] == "invalid_signature"
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_changed_body_is_refused() -> None:
    request = signed()
    tampered = ReceivedRequest(
        request.method, request.raw_path, request.raw_query, request.headers, BODY + b" "
    )
    assert error_of(tampered).details["error_code"] == "invalid_signature"


def test_a_changed_path_is_refused() -> None:
    request = signed()
    moved = ReceivedRequest(
        request.method, request.raw_path + "-x", request.raw_query, request.headers, BODY
    )
    assert error_of(moved).details["error_code"] == "invalid_signature"


def test_an_expired_date_is_refused() -> None:
    error = error_of(signed(), now=time.time() + 16 * 60)
    assert error.details["error_code"] == "invalid_signature"
    assert error.message.startswith("Signature expired:")


def test_a_date_just_inside_the_window_verifies() -> None:
    check(signed(), now=time.time() + 14 * 60)


def test_a_date_from_the_future_is_refused() -> None:
    error = error_of(signed(), now=time.time() - 16 * 60)
    assert error.message.startswith("Signature not yet current:")


def test_another_services_scope_is_refused() -> None:
    error = error_of(signed(service="s3"))
    assert error.message == "Credential should be scoped to correct service: 'bedrock'."


def test_a_signature_without_its_date_header_is_incomplete() -> None:
    request = signed()
    undated = [(name, value) for name, value in request.headers if name != "x-amz-date"]
    error = error_of(ReceivedRequest("POST", request.raw_path, "", undated, BODY))
    assert error.details["error_code"] == "incomplete_signature"


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/bedrock/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20261130/bedrock/aws4_request, SignedHeaders=host, "
        "Signature=00",
    ],
    ids=["no-signature", "short-scope"],
)
def test_a_malformed_authorization_header_is_incomplete(header: str) -> None:
    with pytest.raises(AuthenticationError) as raised:
        parse_authorization(header)
    assert raised.value.details["error_code"] == "incomplete_signature"


@pytest.mark.parametrize(
    ("path", "normal"),
    [("/a/./b/../c", "/a/c"), ("/a//b/", "/a/b/"), ("", "/"), ("/..", "/")],
)
def test_dot_and_empty_segments_are_removed_as_aws_signs_them(path: str, normal: str) -> None:
    assert remove_dot_segments(path) == normal
