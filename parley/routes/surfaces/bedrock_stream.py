"""A Messages stream in Bedrock's framing: each event a `chunk` frame carrying its JSON in
base64, `message_stop` with `amazon-bedrock-invocationMetrics`, and an error after the 200 as
an exception frame that ends the stream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from parley.domain.eventstream import chunk, exception
from parley.routes.surfaces.aws import stream_exception
from parley.wire.stream import ErrorEvent, MessageDeltaEvent, MessageStopEvent, StreamEvent

METRICS = "amazon-bedrock-invocationMetrics"


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def frames(events: AsyncIterator[StreamEvent], started: float) -> AsyncIterator[bytes]:
    """`started`: `time.perf_counter()` when the request arrived (the latencies count from it)."""
    first_byte: int | None = None
    input_tokens = output_tokens = 0
    async for event in events:
        if isinstance(event, ErrorEvent):
            yield exception(stream_exception(event.error.type), event.error.message)
            return
        if first_byte is None and event.type == "content_block_delta":
            first_byte = _ms_since(started)
        if isinstance(event, MessageDeltaEvent):
            input_tokens, output_tokens = event.usage.input_tokens, event.usage.output_tokens
        if isinstance(event, MessageStopEvent):
            latency = _ms_since(started)
            data = json.loads(event.model_dump_json())
            data[METRICS] = {
                "inputTokenCount": input_tokens,
                "outputTokenCount": output_tokens,
                "invocationLatency": latency,
                "firstByteLatency": latency if first_byte is None else first_byte,
            }
            yield chunk(data)
        else:
            yield chunk(event.model_dump_json().encode())
