"""Hostile inputs a fuzzer will not find, against a real server (uvicorn as `parley serve` runs
it, in a thread): each gets a contract error or a timeout, and the server answers the next
request as usual. A FakeEngine answers (the engine is not what this is about; but for 10,000
blocks, whose rendering is the real model's); its answer is long words, so a stream can outgrow
the socket buffers of a client that stops reading."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.settings import LimitsSettings, Settings, TierSource
from tests.fakes import FakeEngine
from tests.helpers import API_KEY, MODEL, create_keys, fake_app, free_port, serving

LIMIT = 2 * 1024 * 1024
TIMEOUT = 1.0
LONG_WORD = "x" * 1000
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    settings = Settings(
        data_dir=data_dir,
        port=free_port(),
        max_request_bytes=LIMIT,
        request_timeout_seconds=TIMEOUT,
        limits=LimitsSettings(tiers=[TierSource(name="open")], default_tier="open"),
    )
    create_keys(settings)
    engine = FakeEngine(" ".join([LONG_WORD] * 8000), context_window=10**6)
    with serving(fake_app(settings, engine), settings) as url:
        yield url


@pytest.fixture()
def http(hostile_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_url, headers=HEADERS, timeout=30) as client:
        yield client


def body(content: Any = "Hi", **fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 2,
        "messages": [{"role": "user", "content": content}],
    } | fields


def assert_refused(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == error_type
    return str(response.json()["error"]["message"])


def assert_still_serving(http: httpx.Client) -> None:
    started = time.monotonic()
    assert http.post("/v1/messages", json=body()).status_code == 200
    assert time.monotonic() - started < 5


def exactly(size: int) -> bytes:
    """A valid request body of exactly `size` bytes (its text padded to fit)."""
    empty = json.dumps(body(content="")).encode()
    return json.dumps(body(content="a" * (size - len(empty)))).encode()


def test_a_body_of_exactly_the_limit_is_served(http: httpx.Client) -> None:
    payload = exactly(LIMIT)
    assert len(payload) == LIMIT
    response = http.post("/v1/messages", content=payload)
    assert response.status_code == 200, response.text


def test_a_body_one_byte_over_the_limit_is_413(http: httpx.Client) -> None:
    response = http.post("/v1/messages", content=exactly(LIMIT + 1))
    assert_refused(response, 413, "request_too_large")


def test_a_chunked_body_one_byte_over_the_limit_is_413(http: httpx.Client) -> None:
    payload = exactly(LIMIT + 1)
    chunks = iter([payload[:1000], payload[1000:]])
    response = http.post("/v1/messages", content=chunks)
    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "request_too_large")


def test_json_nested_ten_thousand_deep_is_400(http: httpx.Client) -> None:
    payload = b'{"model": "' + MODEL.encode() + b'", "metadata": ' + b"[" * 10_000 + b"]" * 10_000
    response = http.post("/v1/messages", content=payload + b"}")
    message = assert_refused(response, 400, "invalid_request_error")
    assert message == "request body is not valid JSON: nested too deeply"
    assert_still_serving(http)


def nested_schema(levels: int) -> str:
    """A tool's input schema of `levels` nested properties (twice as many levels of JSON)."""
    opened = '{"type": "object", "properties": {"a": ' * levels
    return opened + '{"type": "string"}' + "}}" * levels


def with_schema(schema: str) -> str:
    payload = json.dumps(body(tools=[{"name": "deep", "input_schema": {}}]))
    return payload.replace('"input_schema": {}', f'"input_schema": {schema}')


def test_a_body_nested_deeper_than_128_levels_is_400(http: httpx.Client) -> None:
    """400 levels of properties are 800 of JSON: the parser copes, the walks after it would
    not (this was a 500)."""
    response = http.post("/v1/messages", content=with_schema(nested_schema(400)))
    message = assert_refused(response, 400, "invalid_request_error")
    assert message == "request body nests deeper than 128 levels"
    assert_still_serving(http)


def test_a_tool_schema_nested_just_under_the_limit_gets_an_answer(http: httpx.Client) -> None:
    response = http.post("/v1/messages", content=with_schema(nested_schema(60)))
    assert response.status_code == 200, response.text


def test_invalid_utf8_is_400(http: httpx.Client) -> None:
    payload = json.dumps(body(content="caf__")).encode().replace(b"__", b"\xc3\x28")
    response = http.post("/v1/messages", content=payload)
    assert_refused(response, 400, "invalid_request_error")


def test_a_lone_surrogate_is_400(http: httpx.Client) -> None:
    payload = json.dumps(body(content="half \ud800 a pair"))
    assert "\\ud800" in payload
    response = http.post("/v1/messages", content=payload)
    message = assert_refused(response, 400, "invalid_request_error")
    assert message == "request body is not valid JSON: a string has a lone surrogate"


def test_a_surrogate_pair_is_one_character_and_served(http: httpx.Client) -> None:
    payload = json.dumps(body(content="an emoji \U0001f600"))
    assert "\\ud83d\\ude00" in payload
    assert http.post("/v1/messages", content=payload).status_code == 200


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400(http: httpx.Client, constant: str) -> None:
    payload = json.dumps(body(metadata={"user_id": "u"})).replace('"u"', constant)
    response = http.post("/v1/messages", content=payload)
    message = assert_refused(response, 400, "invalid_request_error")
    assert message.startswith(f"request body is not valid JSON: {constant} is not a JSON value")


def test_ten_thousand_content_blocks_get_an_answer_from_the_real_model(base_url: str) -> None:
    """On the real model (the FakeEngine's own block bookkeeping is quadratic): rendered and
    refused as too long for the context window, in bounded time."""
    blocks = [{"type": "text", "text": f"block {i}"} for i in range(10_000)]
    started = time.monotonic()
    response = httpx.post(
        f"{base_url}/v1/messages", json=body(content=blocks), headers=HEADERS, timeout=120
    )
    message = assert_refused(response, 400, "invalid_request_error")
    assert message.startswith("prompt is too long: ")
    assert time.monotonic() - started < 60


def test_a_megabyte_tool_schema_gets_an_answer(http: httpx.Client) -> None:
    properties = {f"field_{i}": {"type": "string", "description": "d" * 90} for i in range(9000)}
    tools = [{"name": "big", "input_schema": {"type": "object", "properties": properties}}]
    payload = json.dumps(body(tools=tools))
    assert len(payload) > 1_000_000
    started = time.monotonic()
    response = http.post("/v1/messages/count_tokens", content=payload)
    assert response.status_code in (200, 400, 413), response.text
    assert time.monotonic() - started < 20
    assert_still_serving(http)


def test_headers_of_64_kb_are_served(http: httpx.Client) -> None:
    response = http.post("/v1/messages", json=body(), headers={"x-padding": "p" * 65000})
    assert response.status_code == 200, response.text


def test_headers_past_the_limit_are_431_in_the_envelope(
    hostile_url: str, http: httpx.Client
) -> None:
    """uvicorn (h11) refuses headers it had to buffer past `max_header_bytes`; the answer is
    the contract's envelope, not uvicorn's plain text."""
    with socket.create_connection(address(hostile_url), timeout=5) as raw:
        raw.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: parley\r\nx-padding: ")
        for _ in range(64):
            try:
                raw.sendall(b"p" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([raw], [], [], 0.02)[0]:
                break
        answer = receive_all(raw)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert json.loads(payload)["error"] == {
        "type": "invalid_request_error",
        "message": "request headers are too large",
    }
    assert_still_serving(http)


def test_a_malformed_request_line_is_400_in_the_envelope(hostile_url: str) -> None:
    with socket.create_connection(address(hostile_url), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = receive_all(raw)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(payload)["error"]["type"] == "invalid_request_error"


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def receive_all(raw: socket.socket) -> bytes:
    chunks = []
    while chunk := raw.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_body_sent_a_byte_at_a_time_times_out_with_408(hostile_url: str) -> None:
    payload = json.dumps(body()).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: parley\r\nx-api-key: {API_KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(address(hostile_url), timeout=10) as raw:
        raw.sendall(head)
        started = time.monotonic()
        raw.settimeout(0.2)
        answer = b""
        for byte in payload:
            try:
                raw.sendall(bytes([byte]))
                answer += raw.recv(65536)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
        waited = time.monotonic() - started
    head_part, _, payload_part = answer.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in head_part.lower()
    assert json.loads(payload_part)["error"] == {
        "type": "invalid_request_error",
        "message": "request body not received within 1 seconds",
    }
    assert TIMEOUT <= waited < TIMEOUT + 5


def test_an_idle_connection_is_closed_after_the_timeout(hostile_url: str) -> None:
    with socket.create_connection(address(hostile_url), timeout=TIMEOUT + 10) as raw:
        started = time.monotonic()
        assert raw.recv(1) == b""
        assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_two_thousand_idle_connections_neither_block_nor_last(
    hostile_url: str, http: httpx.Client
) -> None:
    before = rss_mb()
    where = address(hostile_url)
    idle = [socket.create_connection(where, timeout=TIMEOUT + 5) for _ in range(2000)]
    try:
        assert_still_serving(http)
        time.sleep(TIMEOUT + 0.5)
        closed = sum(1 for raw in idle if raw.recv(1) == b"")
    finally:
        for raw in idle:
            raw.close()
    assert closed == 2000
    assert rss_mb() - before < 100
    assert_still_serving(http)


def test_a_client_that_stops_reading_a_stream_holds_nothing_up(
    hostile_url: str, http: httpx.Client
) -> None:
    """The answer (8 MB) outgrows the socket buffers; the server blocks on that one stream
    only, and lets go when the client leaves."""
    payload = json.dumps(body(max_tokens=8000, stream=True)).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: parley\r\nx-api-key: {API_KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    before = rss_mb()
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(address(hostile_url))
    stalled.sendall(head + payload)
    assert stalled.recv(1024).startswith(b"HTTP/1.1 200")
    time.sleep(1)
    assert_still_serving(http)
    assert rss_mb() - before < 100
    stalled.close()
    assert_still_serving(http)
