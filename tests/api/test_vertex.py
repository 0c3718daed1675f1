"""The Vertex AI shape through the official SDK's `AnthropicVertex`, unchanged but for its
base URL and a Parley key as the access token, against the real server and model."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic import AnthropicVertex
from fastapi import FastAPI

from tests.helpers import API_KEY, MODEL, billed

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
VERTEX_ID = "smollm2-135m-instruct@20250207"
MODELS = "/v1/projects/parley-test/locations/europe-west1/publishers/anthropic/models"


@pytest.fixture(scope="module")
def vertex(base_url: str) -> AnthropicVertex:
    return AnthropicVertex(
        base_url=f"{base_url}/v1",
        region="europe-west1",
        project_id="parley-test",
        access_token=API_KEY,
        max_retries=0,
        timeout=60,
    )


@pytest.fixture(scope="module")
def raw(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=60
    )


def body(**changes: Any) -> dict[str, Any]:
    return {"anthropic_version": "vertex-2023-10-16", "max_tokens": 1, "messages": QUESTION} | (
        changes
    )


def google_error(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert set(error) == {"code", "message", "status"}
    return str(error["message"])


def test_create_with_a_vertex_model_id_returns_a_message(vertex: AnthropicVertex) -> None:
    message = vertex.messages.create(model=VERTEX_ID, max_tokens=8, messages=QUESTION)
    assert message.model == MODEL
    assert message.type == "message" and message.content[0].type == "text"
    assert 1 <= message.usage.output_tokens <= 8


def test_count_tokens_counts_exactly_as_first_party(vertex: AnthropicVertex) -> None:
    assert vertex.messages.count_tokens(model=VERTEX_ID, messages=QUESTION).input_tokens == 37


def test_a_stream_is_ordinary_sse_with_the_same_usage(vertex: AnthropicVertex) -> None:
    with vertex.messages.stream(model="smollm2", max_tokens=6, messages=QUESTION) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.usage.input_tokens == 37
    assert 1 <= final.usage.output_tokens <= 6


def test_a_request_is_billed_to_the_vertex_surface_in_the_urls_region(
    app: FastAPI, vertex: AnthropicVertex
) -> None:
    response = vertex.messages.with_raw_response.create(
        model=VERTEX_ID, max_tokens=1, messages=QUESTION
    )
    entry = billed(app, response.headers["request-id"])
    assert (entry.surface, entry.region, entry.model) == ("vertex", "europe-west1", MODEL)
    assert entry.message_id == response.parse().id


def test_the_sdk_sends_api_version_2026_10_21_which_refuses_temperature(
    vertex: AnthropicVertex,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        vertex.messages.create(
            model=VERTEX_ID, max_tokens=1, messages=QUESTION, extra_body={"temperature": 0}
        )
    assert raised.value.status_code == 400
    assert raised.value.body == {
        "error": {
            "code": 400,
            "message": "temperature: Extra inputs are not permitted",
            "status": "INVALID_ARGUMENT",
        }
    }


def test_the_documented_vertex_version_keeps_2023_06_01_fields(vertex: AnthropicVertex) -> None:
    message = vertex.messages.create(
        model=VERTEX_ID,
        max_tokens=1,
        messages=QUESTION,
        extra_body={"anthropic_version": "vertex-2023-10-16", "temperature": 0},
    )
    assert message.usage.output_tokens == 1


def test_an_unknown_anthropic_version_is_a_400(raw: httpx.Client) -> None:
    response = raw.post(f"{MODELS}/{VERTEX_ID}:rawPredict", json=body(anthropic_version="x"))
    assert google_error(response, 400, "INVALID_ARGUMENT") == (
        'anthropic_version: "x" is not a valid version'
    )


def test_a_missing_anthropic_version_is_a_400(raw: httpx.Client) -> None:
    response = raw.post(f"{MODELS}/{VERTEX_ID}:rawPredict", json={"max_tokens": 1})
    assert google_error(response, 400, "INVALID_ARGUMENT") == "anthropic_version: Field required"


def test_a_model_in_the_body_is_a_400(raw: httpx.Client) -> None:
    response = raw.post(f"{MODELS}/{VERTEX_ID}:rawPredict", json=body(model=MODEL))
    assert google_error(response, 400, "INVALID_ARGUMENT") == (
        "model: Extra inputs are not permitted"
    )


def test_an_encoded_semicolon_stays_in_the_model_id(raw: httpx.Client) -> None:
    response = raw.post(f"{MODELS}/smollm2%3Bx:rawPredict", json=body())
    assert google_error(response, 404, "NOT_FOUND") == (
        "Publisher Model `projects/parley-test/locations/europe-west1/publishers/anthropic/"
        "models/smollm2;x` not found."
    )


def test_an_unknown_model_raises_the_sdks_not_found(vertex: AnthropicVertex) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        vertex.messages.create(model="claude-opus-4-1@20250805", max_tokens=1, messages=QUESTION)
    assert raised.value.body["error"]["status"] == "NOT_FOUND"  # type: ignore[index]


def test_an_unknown_method_is_not_found(raw: httpx.Client) -> None:
    response = raw.post(f"{MODELS}/{VERTEX_ID}:predict", json=body())
    google_error(response, 404, "NOT_FOUND")


def test_a_wrong_token_raises_the_sdks_authentication_error(base_url: str) -> None:
    stranger = AnthropicVertex(
        base_url=f"{base_url}/v1", region="us", project_id="p", access_token="ya29.not-ours"
    )
    with pytest.raises(anthropic.AuthenticationError) as raised:
        stranger.messages.create(model=VERTEX_ID, max_tokens=1, messages=QUESTION)
    assert raised.value.body["error"]["status"] == "UNAUTHENTICATED"  # type: ignore[index]


def test_count_tokens_without_a_model_is_a_400(raw: httpx.Client) -> None:
    response = raw.post(
        f"{MODELS}/count-tokens:rawPredict",
        json={"anthropic_version": "vertex-2023-10-16", "messages": QUESTION},
    )
    assert google_error(response, 400, "INVALID_ARGUMENT") == "model: Field required"
