"""Streaming (`stream: true`): the SDK's `messages.stream(...)` helper and the raw SSE bytes.

Greedy decoding (temperature 0, allowed on API version 2023-06-01) makes every answer here
exact, so a streamed answer can be compared with a non-streamed one token for token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from fastapi import FastAPI
from pydantic import TypeAdapter

from tests.helpers import API_KEY, MODEL

# counting has wide logit margins, so greedy answers agree across KV-cache layouts (docs/engine.md)
STORY = [{"role": "user", "content": "Count from 1 to 100, separated by commas."}]
MAX_TOKENS = 20  # the greedy count is longer, so generation stops at exactly this many tokens
GREEDY = {
    "extra_headers": {"anthropic-version": "2023-06-01"},
    "extra_body": {"temperature": 0},
}
CONTRACT_ORDER = [
    "message_start",
    "content_block_start",
    "ping",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@dataclass(frozen=True)
class RawStream:
    status: int
    headers: httpx.Headers
    body: str

    def frames(self) -> list[tuple[str, dict[str, Any]]]:
        """`event: <name>\\ndata: <json>\\n\\n` frames, strictly: two lines each, nothing else."""
        assert self.body.endswith("\n\n")
        parsed = []
        for frame in self.body.split("\n\n")[:-1]:
            event_line, data_line = frame.split("\n")
            assert event_line.startswith("event: ") and data_line.startswith("data: ")
            parsed.append((event_line.removeprefix("event: "), json.loads(data_line[6:])))
        return parsed

    def events(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.frames() if event == name]

    def text(self) -> str:
        return "".join(d["delta"]["text"] for d in self.events("content_block_delta"))


@dataclass(frozen=True)
class SdkStream:
    events: list[Any]
    final: Message


def collapsed(names: list[str]) -> list[str]:
    """Runs of one event name folded into one, so the order reads like the contract's."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def raw_stream(http: httpx.Client, **fields: Any) -> RawStream:
    body = {"model": MODEL, "messages": STORY, "stream": True, "temperature": 0, **fields}
    with http.stream("POST", "/v1/messages", json=body) as response:
        return RawStream(response.status_code, response.headers, response.read().decode())


def sdk_stream(client: anthropic.Anthropic, **fields: Any) -> SdkStream:
    with client.messages.stream(model=MODEL, messages=STORY, **GREEDY, **fields) as stream:
        events = list(stream)
        return SdkStream(events, stream.get_final_message())


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


@pytest.fixture(scope="module")
def answer(client: anthropic.Anthropic) -> Message:
    """The non-streamed greedy answer that every stream here must reproduce."""
    message = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=STORY, **GREEDY)
    assert message.stop_reason == "max_tokens"
    return message


@pytest.fixture(scope="module")
def prompt_tokens(client: anthropic.Anthropic) -> int:
    return client.messages.count_tokens(model=MODEL, messages=STORY).input_tokens


@pytest.fixture(scope="module")
def raw(http: httpx.Client) -> RawStream:
    return raw_stream(http, max_tokens=MAX_TOKENS)


@pytest.fixture(scope="module")
def sdk(client: anthropic.Anthropic) -> SdkStream:
    return sdk_stream(client, max_tokens=MAX_TOKENS)


def test_the_raw_stream_is_200_text_event_stream(raw: RawStream) -> None:
    assert raw.status == 200
    assert raw.headers["content-type"].split(";")[0] == "text/event-stream"
    assert raw.headers["request-id"].startswith("req_")


def test_raw_events_come_in_the_contract_order(raw: RawStream) -> None:
    assert collapsed([event for event, _ in raw.frames()]) == CONTRACT_ORDER


def test_each_event_name_equals_its_json_type(raw: RawStream) -> None:
    assert all(event == data["type"] for event, data in raw.frames())


def test_each_raw_event_validates_as_the_sdks_stream_event(raw: RawStream) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    for event, data in raw.frames():
        if event != "ping":  # ping is not in the SDK's union: its decoder skips it
            adapter.validate_python(data)


def test_message_start_holds_an_empty_message(raw: RawStream) -> None:
    (start,) = raw.events("message_start")
    message = start["message"]
    assert (message["content"], message["stop_reason"], message["stop_sequence"]) == (
        [],
        None,
        None,
    )
    assert message["usage"]["output_tokens"] == 0
    assert message["id"].startswith("msg_01") and message["model"] == MODEL


def test_content_block_start_holds_an_empty_text_block(raw: RawStream) -> None:
    (start,) = raw.events("content_block_start")
    assert start == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }


def test_every_delta_is_a_text_delta_of_block_0(raw: RawStream) -> None:
    deltas = raw.events("content_block_delta")
    assert deltas and all(d["index"] == 0 and d["delta"]["type"] == "text_delta" for d in deltas)


def test_message_start_usage_equals_count_tokens(raw: RawStream, prompt_tokens: int) -> None:
    (start,) = raw.events("message_start")
    assert start["message"]["usage"]["input_tokens"] == prompt_tokens


def test_message_delta_counts_every_generated_token(raw: RawStream, prompt_tokens: int) -> None:
    (delta,) = raw.events("message_delta")
    assert delta["delta"] == {
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "stop_details": None,
    }
    assert delta["usage"]["output_tokens"] == MAX_TOKENS
    assert delta["usage"]["input_tokens"] == prompt_tokens


def test_the_raw_stream_text_equals_the_non_streamed_answer(
    raw: RawStream, answer: Message
) -> None:
    assert raw.text() == text_of(answer)


def test_sdk_events_come_in_the_contract_order(sdk: SdkStream) -> None:
    raw_events = [event.type for event in sdk.events if event.type != "text"]  # "text": helper
    assert collapsed(raw_events) == [name for name in CONTRACT_ORDER if name != "ping"]


def test_sdk_text_deltas_concatenate_to_the_final_message_text(sdk: SdkStream) -> None:
    deltas = [e.delta.text for e in sdk.events if e.type == "content_block_delta"]
    assert "".join(deltas) == text_of(sdk.final)


def test_the_sdk_final_message_equals_the_non_streamed_answer(
    sdk: SdkStream, answer: Message
) -> None:
    assert text_of(sdk.final) == text_of(answer)
    assert (sdk.final.stop_reason, sdk.final.stop_sequence) == ("max_tokens", None)
    assert sdk.final.usage.output_tokens == answer.usage.output_tokens == MAX_TOKENS


def test_the_sdk_final_usage_keeps_the_input_tokens_of_message_start(
    sdk: SdkStream, prompt_tokens: int
) -> None:
    start = next(e for e in sdk.events if e.type == "message_start")
    assert start.message.usage.input_tokens == sdk.final.usage.input_tokens == prompt_tokens


def test_a_stop_sequence_ends_the_stream_without_its_text(
    client: anthropic.Anthropic, answer: Message
) -> None:
    full = text_of(answer)
    stop = full[8:14]  # six characters from inside the answer: likely several tokens
    stream = sdk_stream(client, max_tokens=MAX_TOKENS, stop_sequences=[stop])
    (delta,) = [e for e in stream.events if e.type == "message_delta"]
    assert (delta.delta.stop_reason, delta.delta.stop_sequence) == ("stop_sequence", stop)
    assert (stream.final.stop_reason, stream.final.stop_sequence) == ("stop_sequence", stop)
    assert text_of(stream.final) == full[: full.index(stop)]
    assert delta.usage.output_tokens < MAX_TOKENS


def test_a_cache_prewarm_cannot_stream(http: httpx.Client) -> None:
    response = http.post(
        "/v1/messages", json={"model": MODEL, "messages": STORY, "stream": True, "max_tokens": 0}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: 0 (a cache pre-warm) cannot be combined with stream",
    }


def test_a_streamed_cache_prewarm_is_a_bad_request_for_the_sdk(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        sdk_stream(client, max_tokens=0)


def test_a_validation_error_comes_before_the_stream_as_a_400(http: httpx.Client) -> None:
    response = http.post(
        "/v1/messages", json={"model": MODEL, "messages": STORY, "stream": True, "max_tokens": 8193}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"


def in_engine(app: FastAPI) -> int:
    """Sequences the model's scheduler holds, waiting or decoding (the server is in-process)."""
    waiting, decoding = app.state.engines[MODEL].scheduler.load
    return int(waiting + decoding)


@pytest.fixture()
def own_connection(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=base_url, headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    ) as raw_client:
        yield raw_client


def test_a_client_disconnect_frees_the_sequence(app: FastAPI, own_connection: httpx.Client) -> None:
    body = {"model": MODEL, "messages": STORY, "stream": True, "max_tokens": 2000, "temperature": 0}
    with own_connection.stream("POST", "/v1/messages", json=body) as response:
        deltas = 0
        for line in response.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 3:
                break
        assert in_engine(app) == 1
    own_connection.close()
    deadline = time.monotonic() + 5.0  # 2000 tokens would take far longer than this
    while in_engine(app) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_engine(app) == 0
