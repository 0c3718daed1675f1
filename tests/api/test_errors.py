"""Errors: the contract's status, type and message, seen through the SDK's exception classes
and as the raw envelope `{"type": "error", "error": {type, message}, "request_id": "req_..."}`
whose `request_id` is the `request-id` response header. Bad input is never a 500."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from parley.settings import Settings
from tests.helpers import API_KEY, MODEL, create_keys, fake_app

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
VALID = {"model": MODEL, "max_tokens": 1, "messages": QUESTION}
AUTH = {"x-api-key": API_KEY}
REQUEST_ID = re.compile(r"req_01[A-Za-z0-9]{22}")
CITED = [{"role": "user", "content": [{"type": "text", "text": "Hi", "citations": []}]}]
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
SMALL_LIMIT = 1024
TOO_LARGE = f"Request exceeds the maximum allowed size of {SMALL_LIMIT} bytes"


@dataclass(frozen=True)
class Case:
    """One refused request: how to send it raw, how to make it with the SDK, what comes back."""

    status: int
    error_type: str
    message: str
    sdk_error: type[anthropic.APIStatusError]
    sdk_call: Callable[[anthropic.Anthropic], object]
    body: Any = None
    content: bytes | None = None
    path: str = "/v1/messages"
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))


def body(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def create(**changes: Any) -> Callable[[anthropic.Anthropic], object]:
    return lambda client: client.messages.create(**body(**changes))


def post(
    raw_body: Any = None, content: bytes | None = None
) -> Callable[[anthropic.Anthropic], object]:
    """The SDK's own request path for bodies its typed methods would not let us build."""
    return lambda client: client.post(
        "/v1/messages", cast_to=httpx2.Response, body=raw_body, content=content
    )


CASES: dict[str, Case] = {
    "missing-key": Case(
        401,
        "authentication_error",
        "x-api-key header is required",
        anthropic.AuthenticationError,
        lambda client: client.messages.create(
            **VALID, extra_headers={"Authorization": anthropic.omit}
        ),
        body=VALID,
        headers={},
    ),
    "wrong-key": Case(
        401,
        "authentication_error",
        "invalid x-api-key",
        anthropic.AuthenticationError,
        lambda client: client.messages.create(
            **VALID, extra_headers={"x-api-key": "sk-ant-api03-wrong"}
        ),
        body=VALID,
        headers={"x-api-key": "sk-ant-api03-wrong"},
    ),
    "wrong-bearer-key": Case(
        401,
        "authentication_error",
        "invalid API key in Authorization: Bearer",
        anthropic.AuthenticationError,
        lambda client: client.with_options(api_key="sk-ant-api03-wrong").messages.create(**VALID),
        body=VALID,
        headers={"authorization": "Bearer sk-ant-api03-wrong"},
    ),
    "unknown-model": Case(
        404,
        "not_found_error",
        "model: no-such-model-20990101",
        anthropic.NotFoundError,
        create(model="no-such-model-20990101"),
        body=body(model="no-such-model-20990101"),
    ),
    "unknown-path": Case(
        404,
        "not_found_error",
        "Not found: GET /v1/nope",
        anthropic.NotFoundError,
        lambda client: client.get("/v1/nope", cast_to=httpx2.Response),
        method="GET",
        path="/v1/nope",
    ),
    "bad-role": Case(
        400,
        "invalid_request_error",
        "messages.0.role: Input should be 'user', 'assistant', 'system', 'ctx' or 'msg'",
        anthropic.BadRequestError,
        create(messages=[{"role": "human", "content": "hi"}]),
        body=body(messages=[{"role": "human", "content": "hi"}]),
    ),
    "missing-max-tokens": Case(
        400,
        "invalid_request_error",
        "max_tokens: Field required",
        anthropic.BadRequestError,
        post({"model": MODEL, "messages": QUESTION}),
        body={"model": MODEL, "messages": QUESTION},
    ),
    "malformed-json": Case(
        400,
        "invalid_request_error",
        "request body is not valid JSON: Expecting value: line 1 column 11 (char 10)",
        anthropic.BadRequestError,
        post(content=b'{"model": '),
        content=b'{"model": ',
    ),
    "body-not-an-object": Case(
        400,
        "invalid_request_error",
        "request body must be a JSON object",
        anthropic.BadRequestError,
        post([VALID]),
        body=[VALID],
    ),
    "unknown-version": Case(
        400,
        "invalid_request_error",
        'anthropic-version: "2099-01-01" is not a valid version',
        anthropic.BadRequestError,
        create(extra_headers={"anthropic-version": "2099-01-01"}),
        body=VALID,
        headers={**AUTH, "anthropic-version": "2099-01-01"},
    ),
    "temperature-on-2026-10-21": Case(
        400,
        "invalid_request_error",
        "temperature: Extra inputs are not permitted",
        anthropic.BadRequestError,
        create(extra_body={"temperature": 0.5}),
        body=body(temperature=0.5),
        headers={**AUTH, "anthropic-version": "2026-10-21"},
    ),
    "top-k-on-2026-10-21": Case(
        400,
        "invalid_request_error",
        "top_k: Extra inputs are not permitted",
        anthropic.BadRequestError,
        create(extra_body={"top_k": 5}),
        body=body(top_k=5),
        headers={**AUTH, "anthropic-version": "2026-10-21"},
    ),
    "citations-in-a-user-text-block-on-2026-10-21": Case(
        400,
        "invalid_request_error",
        "messages.0.content.0.citations: Extra inputs are not permitted",
        anthropic.BadRequestError,
        lambda client: client.messages.count_tokens(model=MODEL, messages=CITED),  # type: ignore[arg-type]
        body={"model": MODEL, "messages": CITED},
        path="/v1/messages/count_tokens",
        headers={**AUTH, "anthropic-version": "2026-10-21"},
    ),
    "tool-choice-names-an-unknown-tool": Case(
        400,
        "invalid_request_error",
        "tool_choice.name: no tool named 'get_time'",
        anthropic.BadRequestError,
        create(
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "get_time"},
        ),
        body=body(
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "get_time"},
        ),
    ),
    "thinking-enabled": Case(
        400,
        "invalid_request_error",
        f'"thinking.type.enabled" is not supported for model {MODEL}',
        anthropic.BadRequestError,
        create(thinking={"type": "enabled", "budget_tokens": 1024}),
        body=body(thinking={"type": "enabled", "budget_tokens": 1024}),
    ),
    "image-input": Case(
        400,
        "invalid_request_error",
        "messages.0.content.1: this model does not support image input",
        anthropic.BadRequestError,
        create(messages=[{"role": "user", "content": [{"type": "text", "text": "What?"}, IMAGE]}]),
        body=body(
            messages=[{"role": "user", "content": [{"type": "text", "text": "What?"}, IMAGE]}]
        ),
    ),
    "max-tokens-above-the-model-maximum": Case(
        400,
        "invalid_request_error",
        "max_tokens: 8193 > 8192, which is the maximum allowed number of output tokens "
        f"for {MODEL}",
        anthropic.BadRequestError,
        create(max_tokens=8193),
        body=body(max_tokens=8193),
    ),
    "unknown-top-level-field": Case(
        400,
        "invalid_request_error",
        "foo: Extra inputs are not permitted",
        anthropic.BadRequestError,
        create(extra_body={"foo": 1}),
        body=body(foo=1),
    ),
    "count-tokens-with-max-tokens": Case(
        400,
        "invalid_request_error",
        "max_tokens: Extra inputs are not permitted",
        anthropic.BadRequestError,
        lambda client: client.messages.count_tokens(
            model=MODEL, messages=QUESTION, extra_body={"max_tokens": 5}
        ),
        body=VALID,
        path="/v1/messages/count_tokens",
    ),
}


@pytest.fixture(scope="module")
def bare(base_url: str) -> Iterator[httpx.Client]:
    """A raw client with no default headers: each request says exactly what it sends."""
    with httpx.Client(base_url=base_url, timeout=60) as raw:
        yield raw


def error_message(response: httpx.Response, status: int, error_type: str) -> str:
    """Checks the envelope and the request id; returns the message."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    envelope = response.json()
    assert set(envelope) == {"type", "error", "request_id"}
    assert envelope["type"] == "error"
    assert set(envelope["error"]) == {"type", "message"}
    assert envelope["error"]["type"] == error_type
    assert REQUEST_ID.fullmatch(envelope["request_id"])
    assert envelope["request_id"] == response.headers["request-id"]
    return str(envelope["error"]["message"])


def send(raw: httpx.Client, case: Case) -> httpx.Response:
    content = case.content if case.body is None else json.dumps(case.body).encode()
    headers = {**case.headers, "content-type": "application/json"} if content else case.headers
    return raw.request(case.method, case.path, content=content, headers=headers)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_error_is_the_raw_envelope(bare: httpx.Client, case: Case) -> None:
    response = send(bare, case)
    assert error_message(response, case.status, case.error_type) == case.message


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_error_raises_the_sdks_exception_class(
    client: anthropic.Anthropic, case: Case
) -> None:
    with pytest.raises(case.sdk_error) as raised:
        case.sdk_call(client)
    error = raised.value
    assert (error.status_code, error.type, error.api_message) == (
        case.status,
        case.error_type,
        case.message,
    )
    assert error.request_id is not None and REQUEST_ID.fullmatch(error.request_id)
    assert isinstance(error.body, dict) and error.body["request_id"] == error.request_id


def test_the_sdks_default_bearer_auth_is_accepted(client: anthropic.Anthropic) -> None:
    response = client.models.with_raw_response.list()
    assert response.http_request.headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-api-key" not in response.http_request.headers
    assert response.status_code == 200


def test_x_api_key_alone_is_accepted(bare: httpx.Client) -> None:
    assert bare.get("/v1/models", headers={"x-api-key": API_KEY}).status_code == 200


def test_a_bearer_token_alone_is_accepted(bare: httpx.Client) -> None:
    response = bare.get("/v1/models", headers={"authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200


def test_x_api_key_wins_over_a_bearer_token(bare: httpx.Client) -> None:
    headers = {"x-api-key": API_KEY, "authorization": "Bearer sk-ant-api03-wrong"}
    assert bare.get("/v1/models", headers=headers).status_code == 200


def test_a_non_bearer_authorization_scheme_is_401(bare: httpx.Client) -> None:
    response = bare.get("/v1/models", headers={"authorization": f"Basic {API_KEY}"})
    assert error_message(response, 401, "authentication_error") == "x-api-key header is required"


def test_a_missing_version_header_is_accepted(bare: httpx.Client) -> None:
    assert "anthropic-version" not in AUTH
    assert bare.get("/v1/models", headers=AUTH).status_code == 200


def test_citations_in_a_user_text_block_are_accepted_on_2023_06_01(http: httpx.Client) -> None:
    response = http.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": CITED})
    assert response.status_code == 200


def test_a_prompt_longer_than_the_context_window_is_a_400_naming_both_numbers(
    client: anthropic.Anthropic,
) -> None:
    def prompt(words: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": "apple" + " apple" * (words - 1)}]

    short = client.messages.count_tokens(model=MODEL, messages=prompt(100)).input_tokens
    longer = client.messages.count_tokens(model=MODEL, messages=prompt(200)).input_tokens
    per_word = (longer - short) // 100
    assert per_word * 100 == longer - short  # each further " apple" is the same tokens
    expected = short + per_word * (9000 - 100)
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model=MODEL, max_tokens=1, messages=prompt(9000))
    assert raised.value.api_message == f"prompt is too long: {expected} tokens > 8192 maximum"


def test_count_tokens_of_a_prompt_longer_than_the_context_window_is_a_400(
    client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        client.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "apple " * 9000 + "?"}]
        )


def test_a_success_carries_a_request_id(client: anthropic.Anthropic, http: httpx.Client) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=QUESTION)
    assert counted._request_id is not None and REQUEST_ID.fullmatch(counted._request_id)
    assert REQUEST_ID.fullmatch(http.get("/v1/models").headers["request-id"])
    assert REQUEST_ID.fullmatch(http.get("/healthz").headers["request-id"])


def test_each_response_has_its_own_request_id(http: httpx.Client) -> None:
    ids = {http.get("/v1/models").headers["request-id"] for _ in range(3)}
    assert len(ids) == 3


GARBAGE: dict[str, bytes] = {
    "empty": b"",
    "null": b"null",
    "number": b"5",
    "string": b'"hello"',
    "not-utf8": b"\xff\xfe\x00",
    "truncated": b'{"model": "x", "messages": [',
    "messages-a-string": json.dumps(body(messages="hi")).encode(),
    "messages-empty": json.dumps(body(messages=[])).encode(),
    "only-a-system-turn": json.dumps(body(messages=[{"role": "system", "content": "x"}])).encode(),
    "content-missing": json.dumps(body(messages=[{"role": "user"}])).encode(),
    "content-a-number": json.dumps(body(messages=[{"role": "user", "content": 5}])).encode(),
    "block-a-number": json.dumps(body(messages=[{"role": "user", "content": [5]}])).encode(),
    "block-without-type": json.dumps(
        body(messages=[{"role": "user", "content": [{"text": "x"}]}])
    ).encode(),
    "text-block-without-text": json.dumps(
        body(messages=[{"role": "user", "content": [{"type": "text"}]}])
    ).encode(),
    "empty-text-block": json.dumps(
        body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    ).encode(),
    "prefill-with-trailing-space": json.dumps(
        body(messages=[*QUESTION, {"role": "assistant", "content": "Paris "}])
    ).encode(),
    "model-a-number": json.dumps(body(model=5)).encode(),
    "max-tokens-negative": json.dumps(body(max_tokens=-1)).encode(),
    "max-tokens-a-word": json.dumps(body(max_tokens="ten")).encode(),
    "max-tokens-huge": json.dumps(body(max_tokens=10**30)).encode(),
    "system-a-number": json.dumps(body(system=5)).encode(),
    "stop-sequences-a-string": json.dumps(body(stop_sequences="x")).encode(),
    "temperature-above-one": json.dumps(body(temperature=2)).encode(),
    "cache-control-unknown-type": json.dumps(
        body(
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {}}]}
            ]
        )
    ).encode(),
    "tool-choice-any-without-tools": json.dumps(body(tool_choice={"type": "any"})).encode(),
    "document-block": json.dumps(
        body(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "document", "source": {"type": "text", "data": "x"}}],
                }
            ]
        )
    ).encode(),
}


@pytest.mark.parametrize("payload", GARBAGE.values(), ids=GARBAGE.keys())
def test_bad_input_is_a_400_envelope_never_a_500(http: httpx.Client, payload: bytes) -> None:
    response = http.post(
        "/v1/messages", content=payload, headers={"content-type": "application/json"}
    )
    assert error_message(response, 400, "invalid_request_error")


@pytest.fixture(scope="module")
async def small_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx2.AsyncClient]:
    """A second, in-process app whose request body limit is 1024 bytes. Only the body's size
    matters here, so a FakeEngine answers."""
    data_dir: Path = tmp_path_factory.mktemp("small-limit")
    settings = Settings(data_dir=data_dir, max_request_bytes=SMALL_LIMIT)
    create_keys(settings)
    app = fake_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://parley", timeout=60
        ) as transport_client,
    ):
        yield transport_client


def padded(size: int) -> bytes:
    """A valid create body (max_tokens 0: no generation) of exactly `size` bytes."""
    empty = json.dumps({**body(max_tokens=0), "system": ""}).encode()
    return json.dumps({**body(max_tokens=0), "system": "x" * (size - len(empty))}).encode()


async def test_a_body_over_the_limit_raises_content_too_large(
    small_limit: httpx2.AsyncClient,
) -> None:
    sdk = anthropic.AsyncAnthropic(
        base_url="http://parley", api_key=API_KEY, max_retries=0, http_client=small_limit
    )
    with pytest.raises(anthropic.ContentTooLargeError) as raised:
        await sdk.messages.create(**body(system="x" * SMALL_LIMIT))
    assert (raised.value.status_code, raised.value.type) == (413, "request_too_large")
    assert raised.value.api_message == TOO_LARGE


async def test_a_body_of_exactly_the_limit_is_accepted(small_limit: httpx2.AsyncClient) -> None:
    payload = padded(SMALL_LIMIT)
    assert len(payload) == SMALL_LIMIT
    response = await small_limit.post(
        "/v1/messages", content=payload, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["usage"]["output_tokens"] == 0


async def test_one_byte_over_the_limit_is_413_request_too_large(
    small_limit: httpx2.AsyncClient,
) -> None:
    response = await small_limit.post(
        "/v1/messages",
        content=padded(SMALL_LIMIT + 1),
        headers={**AUTH, "content-type": "application/json"},
    )
    envelope = response.json()
    assert response.status_code == 413
    assert envelope["error"] == {"type": "request_too_large", "message": TOO_LARGE}
    assert envelope["request_id"] == response.headers["request-id"]


async def test_a_chunked_body_over_the_limit_is_413(small_limit: httpx2.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        payload = padded(SMALL_LIMIT * 3)
        for start in range(0, len(payload), 256):
            yield payload[start : start + 256]

    response = await small_limit.post("/v1/messages", content=chunks(), headers=AUTH)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


async def test_count_tokens_over_the_limit_is_413(small_limit: httpx2.AsyncClient) -> None:
    sdk = anthropic.AsyncAnthropic(
        base_url="http://parley", api_key=API_KEY, max_retries=0, http_client=small_limit
    )
    with pytest.raises(anthropic.ContentTooLargeError):
        await sdk.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "x" * SMALL_LIMIT}]
        )
