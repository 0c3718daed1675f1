"""Each surface's refusals in its own cloud's shape, so its clients raise their usual
exceptions; served over a FakeEngine (what is tested is the edge, not generation)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import boto3
import httpx
import pytest
from anthropic import AnthropicBedrock
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EventStreamError

from parley.domain.billing import BillingContext
from parley.domain.ports import EngineEvent, GenerateRequest, TokenOut
from parley.domain.sealing import Sealer
from parley.errors import OverloadedError
from parley.services.messages import MessagesService
from parley.settings import Settings
from parley.store.aws_credentials import AwsCredentialStore, CreatedAwsKey
from parley.store.db import connect
from parley.store.server_key import load_server_key
from parley.store.tenancy import TenancyStore
from tests.fakes import FakeEngine, FakeStream
from tests.helpers import (
    API_KEY,
    blocking,
    create_aws_key,
    create_keys,
    fake_app,
    free_port,
    running,
)

QUESTION = [{"role": "user", "content": "Hello there"}]
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4, "messages": QUESTION}
VERTEX = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/smollm2"
ONE_TRY = Config(retries={"total_max_attempts": 1})


class FakeEngineThatBreaks(FakeEngine):
    """While `breaking`, fails after the first token, as an engine that dies mid-answer."""

    breaking = False

    def generate(self, request: GenerateRequest) -> FakeStream | FakeBrokenStream:
        stream = super().generate(request)
        return FakeBrokenStream(stream) if self.breaking else stream


class FakeBrokenStream:
    def __init__(self, stream: FakeStream) -> None:
        self._stream = stream

    async def _events(self) -> AsyncIterator[EngineEvent]:
        async for event in self._stream:
            yield event
            if isinstance(event, TokenOut):
                raise OverloadedError("Overloaded")

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self._events()

    async def aclose(self) -> None:
        await self._stream.aclose()


@dataclass
class Served:
    url: str
    settings: Settings
    engine: FakeEngineThatBreaks
    aws_key: CreatedAwsKey


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("surface-errors"))
    create_keys(settings)
    engine = FakeEngineThatBreaks()
    with running(fake_app(settings, engine), free_port()) as url:
        yield Served(url, settings, engine, create_aws_key(settings))


def runtime(served: Served, key: CreatedAwsKey | None = None, secret: str | None = None) -> Any:
    key = key or served.aws_key
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=served.url,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=secret or key.secret_access_key,
        config=ONE_TRY,
    )


def aws_error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"]["Code"], response["Error"]["Message"]


def invoke(served: Served, body: Any = None, model: str = "smollm2", **kwargs: Any) -> Any:
    payload = body if isinstance(body, str) else json.dumps(body or BODY)
    return runtime(served, **kwargs).invoke_model(modelId=model, body=payload)


def test_a_forged_secret_raises_boto3s_invalid_signature(served: Served) -> None:
    assert aws_error_of(invoke, served=served, secret="forged-secret-forged-secret") == (
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
    )


def test_an_expired_signature_is_a_403(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    earlier = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: earlier)
    url = f"{served.url}/model/smollm2/invoke"
    request = AWSRequest(method="POST", url=url, data=json.dumps(BODY).encode())
    key = served.aws_key
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    SigV4Auth(credentials, "bedrock", "us-east-1").add_auth(request)
    response = httpx.post(url, content=request.body, headers=dict(request.headers))
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(
        f"Signature expired: {earlier:%Y%m%dT%H%M%SZ} is now earlier than "
    )


def test_an_unknown_access_key_is_an_unrecognized_client(served: Served) -> None:
    stranger = CreatedAwsKey(served.aws_key.principal, "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    status, code, _ = aws_error_of(invoke, served=served, key=stranger)
    assert (status, code) == (403, "UnrecognizedClientException")


def test_a_disabled_access_key_stops_at_once(served: Served) -> None:
    key = create_aws_key(served.settings)
    invoke(served, key=key)
    store = AwsCredentialStore(
        connect(served.settings.resolved_database_url()), Sealer(load_server_key(served.settings))
    )
    assert blocking(store.disable(key.access_key_id))
    assert aws_error_of(invoke, served=served, key=key)[:2] == (403, "UnrecognizedClientException")


def test_disabling_the_api_key_stops_its_access_key(served: Served) -> None:
    key = create_aws_key(served.settings)
    invoke(served, key=key)
    tenancy = TenancyStore(connect(served.settings.resolved_database_url()))
    principal = key.principal
    blocking(
        tenancy.update_key(
            principal.organization_id, principal.key_id, name=None, status="inactive"
        )
    )
    assert aws_error_of(invoke, served=served, key=key)[:2] == (403, "UnrecognizedClientException")


def test_no_credentials_at_all_is_a_missing_authentication_token(served: Served) -> None:
    response = httpx.post(f"{served.url}/model/smollm2/invoke", json=BODY)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert response.headers["x-amzn-requestid"] == response.headers["request-id"]
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_wrong_bedrock_api_key_raises_the_sdks_permission_error(served: Served) -> None:
    client = AnthropicBedrock(base_url=served.url, aws_region="us-east-1", api_key="nope")
    with pytest.raises(anthropic.PermissionDeniedError) as raised:
        client.messages.create(model="smollm2", max_tokens=1, messages=QUESTION)
    assert raised.value.response.headers["x-amzn-errortype"] == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            BODY | {"anthropic_version": "2023-06-01"},
            'anthropic_version: "2023-06-01" is not a valid version',
        ),
        (BODY | {"model": "smollm2"}, "model: Extra inputs are not permitted"),
        (BODY | {"stream": True}, "stream: Extra inputs are not permitted"),
        (
            BODY | {"anthropic_version": "2026-10-21", "top_k": 5},
            "top_k: Extra inputs are not permitted",
        ),
        (BODY | {"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 0"),
        ("{not json", None),
    ],
    ids=["version", "model", "stream", "removed-field", "max-tokens", "json"],
)
def test_a_bad_body_raises_boto3s_validation_exception(
    served: Served, body: Any, message: str | None
) -> None:
    status, code, said = aws_error_of(invoke, served=served, body=body)
    assert (status, code) == (400, "ValidationException")
    assert message is None or said == message


def test_anthropic_beta_and_the_documented_version_are_accepted(served: Served) -> None:
    body = BODY | {"anthropic_beta": ["context-1m-2025-08-07"], "user_profile_id": "u"}
    assert json.loads(invoke(served, body)["body"].read())["type"] == "message"


def test_an_unknown_model_raises_boto3s_resource_not_found(served: Served) -> None:
    model = "us.anthropic.claude-opus-4-6-v1"
    assert aws_error_of(invoke, served=served, model=model) == (
        404,
        "ResourceNotFoundException",
        f"Could not resolve the foundation model from model identifier {model}.",
    )


def test_an_overloaded_engine_is_service_unavailable_on_each_surface(served: Served) -> None:
    served.engine.overloaded = True
    try:
        assert aws_error_of(invoke, served=served)[:2] == (503, "ServiceUnavailableException")
        vertex = httpx.post(
            f"{served.url}{VERTEX}:rawPredict",
            json={"anthropic_version": "vertex-2023-10-16", "max_tokens": 1, "messages": QUESTION},
            headers={"authorization": f"Bearer {API_KEY}"},
        )
    finally:
        served.engine.overloaded = False
    assert vertex.status_code == 503
    assert vertex.json() == {
        "error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}
    }


def test_a_failure_after_the_200_is_an_exception_frame(served: Served) -> None:
    served.engine.breaking = True
    try:
        response = runtime(served).invoke_model_with_response_stream(
            modelId="smollm2", body=json.dumps(BODY)
        )
        chunks: list[dict[str, Any]] = []
        with pytest.raises(EventStreamError) as raised:
            for part in response["body"]:
                chunks.append(json.loads(part["chunk"]["bytes"]))
    finally:
        served.engine.breaking = False
    assert chunks[0]["type"] == "message_start"
    assert raised.value.response["Error"] == {
        "Code": "serviceUnavailableException",
        "Message": "Overloaded",
    }


def test_the_bedrock_sdk_raises_a_mid_stream_exception_frame(served: Served) -> None:
    client = AnthropicBedrock(
        base_url=served.url, aws_region="us-east-1", api_key=API_KEY, max_retries=0
    )
    served.engine.breaking = True
    try:
        with (
            pytest.raises(anthropic.APIStatusError, match="Overloaded"),
            client.messages.stream(model="smollm2", max_tokens=4, messages=QUESTION) as stream,
        ):
            stream.until_done()
    finally:
        served.engine.breaking = False


def test_the_profiles_geography_and_the_region_reach_the_billing_context(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[BillingContext | None] = []
    admit = MessagesService.admit

    async def recording(self: MessagesService, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("billing"))
        return await admit(self, *args, **kwargs)

    monkeypatch.setattr(MessagesService, "admit", recording)
    invoke(served, model="eu.anthropic.smollm2-135m-instruct-20250207-v1:0")
    assert seen == [BillingContext(surface="bedrock", region="us-east-1", geo="eu")]
