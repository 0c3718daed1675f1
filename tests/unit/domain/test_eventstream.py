"""Event-stream frames, checked against botocore's own decoder and the Bedrock SDK's."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from anthropic.lib.bedrock._stream_decoder import AWSEventStreamDecoder
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, EventStreamMessage

from parley.domain.eventstream import chunk, exception, frame

START = {"type": "message_start", "message": {"id": "msg_1", "content": []}}


def decoded(data: bytes) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_a_frame_decodes_to_its_headers_and_payload() -> None:
    [message] = decoded(frame({":event-type": "chunk", "x": "é"}, b"payload"))
    assert message.headers == {":event-type": "chunk", "x": "é"}
    assert message.payload == b"payload"


def test_a_frame_states_its_lengths_and_checksums() -> None:
    data = frame({"a": "b"}, b"xyz")
    total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
    assert total == len(data) == 12 + (1 + 1 + 1 + 2 + 1) + 3 + 4
    assert headers_length == 6
    assert prelude_crc == zlib.crc32(data[:8])
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_a_corrupted_frame_fails_botocores_checksum() -> None:
    data = bytearray(frame({"a": "b"}, b"xyz"))
    data[-6] ^= 1
    with pytest.raises(ChecksumMismatch):
        decoded(bytes(data))


def test_a_chunk_carries_the_events_json_in_base64() -> None:
    [message] = decoded(chunk(START))
    assert message.headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(base64.b64decode(json.loads(message.payload)["bytes"])) == START


def test_the_bedrock_sdk_decodes_chunks_into_the_messages_events() -> None:
    data = chunk(START) + chunk({"type": "message_stop"})
    events = list(AWSEventStreamDecoder().iter_bytes(iter([data[:7], data[7:40], data[40:]])))
    assert [(e.event, e.json()) for e in events] == [
        ("message_start", START),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_the_bedrock_sdk_decodes_an_exception_frame_as_an_error_event() -> None:
    [event] = AWSEventStreamDecoder().iter_bytes(
        iter([exception("throttlingException", "Too many tokens")])
    )
    assert event.event == "error"
    assert event.json() == {
        "type": "error",
        "error": {"type": "throttlingException", "message": "Too many tokens"},
    }


def test_an_exception_frame_has_a_non_200_status_for_botocore() -> None:
    [message] = decoded(exception("validationException", "bad"))
    response = message.to_response_dict()
    assert response["status_code"] == 400
    assert response["headers"][":exception-type"] == "validationException"
    assert json.loads(response["body"]) == {"message": "bad"}
