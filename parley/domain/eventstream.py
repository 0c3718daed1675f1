"""AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's streaming
responses use it. A frame is: total length and headers length (big-endian u32 each), the CRC32
of those 8 bytes, the headers, the payload, and the CRC32 of everything before it. Every header
here is a string (type 7): name length (u8), name, type, value length (u16), value."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

STRING_TYPE = 7
PRELUDE_BYTES = 8
CRC_BYTES = 4


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = PRELUDE_BYTES + CRC_BYTES + len(encoded) + len(payload) + CRC_BYTES
    prelude = struct.pack(">II", total, len(encoded))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", STRING_TYPE, len(raw_value))
        + raw_value
    )


def chunk(event: Mapping[str, Any] | bytes) -> bytes:
    """A `chunk` event: the base64 of one Messages stream event's JSON, in `{"bytes": ...}`."""
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    payload = json.dumps({"bytes": base64.b64encode(raw).decode()}).encode()
    return frame(
        {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        },
        payload,
    )


def exception(kind: str, message: str) -> bytes:
    """An exception frame (`kind` as the response stream's member names it, e.g.
    `throttlingException`): the stream's way to fail after its 200 was sent."""
    return frame(
        {
            ":exception-type": kind,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )
