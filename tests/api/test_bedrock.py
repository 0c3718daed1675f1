"""The Bedrock shape through the clients people use, unchanged but for the endpoint and
credentials: the official SDK's `AnthropicBedrock` (SigV4 and API key) and boto3's
`bedrock-runtime`, against the real server and model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from anthropic import AnthropicBedrock
from botocore.exceptions import ClientError
from fastapi import FastAPI

from parley.settings import Settings
from parley.store.aws_credentials import CreatedAwsKey
from tests.helpers import API_KEY, MODEL, billed, create_aws_key

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PROFILE = "us.anthropic.smollm2-135m-instruct-20250207-v1:0"
BODY = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4, "messages": QUESTION}
)


@pytest.fixture(scope="module")
def aws_key(app: FastAPI, settings: Settings) -> CreatedAwsKey:
    return create_aws_key(settings)


@pytest.fixture(scope="module")
def signed(base_url: str, aws_key: CreatedAwsKey) -> AnthropicBedrock:
    return AnthropicBedrock(
        base_url=base_url,
        aws_region="us-east-1",
        aws_access_key=aws_key.access_key_id,
        aws_secret_key=aws_key.secret_access_key,
        max_retries=0,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runtime(base_url: str, aws_key: CreatedAwsKey) -> Callable[..., Any]:
    def client(endpoint: str = base_url, region: str = "us-east-1") -> Any:
        return boto3.client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id=aws_key.access_key_id,
            aws_secret_access_key=aws_key.secret_access_key,
        )

    return client


def test_a_sigv4_signed_create_returns_a_message(signed: AnthropicBedrock) -> None:
    message = signed.messages.create(model=PROFILE, max_tokens=8, messages=QUESTION)
    assert message.model == MODEL
    assert message.content[0].type == "text"
    assert message.usage.input_tokens == 37
    assert 1 <= message.usage.output_tokens <= 8


def test_a_sigv4_signed_stream_decodes_into_the_messages_events(signed: AnthropicBedrock) -> None:
    with signed.messages.stream(model=PROFILE, max_tokens=6, messages=QUESTION) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.usage.input_tokens == 37 and 1 <= final.usage.output_tokens <= 6


def test_a_signed_request_is_billed_to_bedrock_in_the_scopes_region(
    app: FastAPI, base_url: str, aws_key: CreatedAwsKey
) -> None:
    sydney = AnthropicBedrock(
        base_url=base_url,
        aws_region="ap-southeast-2",
        aws_access_key=aws_key.access_key_id,
        aws_secret_key=aws_key.secret_access_key,
        max_retries=0,
    )
    response = sydney.messages.with_raw_response.create(
        model="smollm2", max_tokens=1, messages=QUESTION
    )
    entry = billed(app, response.headers["request-id"])
    assert (entry.surface, entry.region, entry.api_key_id) == (
        "bedrock",
        "ap-southeast-2",
        aws_key.principal.key_id,
    )


def test_a_bedrock_api_key_in_a_regional_base_url_bills_that_region(
    app: FastAPI, base_url: str
) -> None:
    keyed = AnthropicBedrock(
        base_url=f"{base_url}/bedrock/eu-west-1", aws_region="eu-west-1", api_key=API_KEY
    )
    response = keyed.messages.with_raw_response.create(
        model="eu.anthropic.smollm2-135m-instruct-20250207-v1:0", max_tokens=1, messages=QUESTION
    )
    entry = billed(app, response.headers["request-id"])
    assert (entry.surface, entry.region) == ("bedrock", "eu-west-1")


def test_a_request_naming_no_region_runs_in_the_default_one(
    app: FastAPI, base_url: str, settings: Settings
) -> None:
    keyed = AnthropicBedrock(base_url=base_url, aws_region="us-west-2", api_key=API_KEY)
    response = keyed.messages.with_raw_response.create(
        model="smollm2", max_tokens=1, messages=QUESTION
    )
    assert billed(app, response.headers["request-id"]).region == settings.default_region


def test_boto3_invoke_model_answers_with_the_invocation_headers(
    runtime: Callable[..., Any],
) -> None:
    response = runtime().invoke_model(modelId=PROFILE, body=BODY)
    message = json.loads(response["body"].read())
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["contentType"] == "application/json"
    assert message["type"] == "message" and message["model"] == MODEL
    assert headers["x-amzn-requestid"] == headers["request-id"]
    assert response["ResponseMetadata"]["RequestId"] == headers["request-id"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) == message["usage"]["input_tokens"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == message["usage"]["output_tokens"]
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0


def test_boto3_streams_chunks_ending_with_the_invocation_metrics(
    runtime: Callable[..., Any],
) -> None:
    arn = (
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.smollm2-135m-instruct-20250207-v1:0"
    )
    response = runtime().invoke_model_with_response_stream(modelId=arn, body=BODY)
    events = [json.loads(part["chunk"]["bytes"]) for part in response["body"]]
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"
    delta = next(e for e in events if e["type"] == "message_delta")
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == delta["usage"]["input_tokens"] == 37
    assert metrics["outputTokenCount"] == delta["usage"]["output_tokens"]
    assert 0 <= metrics["firstByteLatency"] <= metrics["invocationLatency"]


def test_boto3_with_a_regional_endpoint_url_signs_and_is_served(
    runtime: Callable[..., Any], base_url: str
) -> None:
    client = runtime(endpoint=f"{base_url}/bedrock/eu-central-1", region="eu-central-1")
    response = client.invoke_model(modelId="eu.anthropic.smollm2-v1:0", body=BODY)
    assert json.loads(response["body"].read())["model"] == MODEL


def test_a_scope_for_another_region_than_the_url_is_refused(
    runtime: Callable[..., Any], base_url: str
) -> None:
    client = runtime(endpoint=f"{base_url}/bedrock/eu-central-1", region="us-east-1")
    with pytest.raises(ClientError) as raised:
        client.invoke_model(modelId="smollm2", body=BODY)
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
