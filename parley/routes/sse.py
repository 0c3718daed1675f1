"""Stream events to Server-Sent Events bytes: `event: <type>` then `data: <json>`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from parley.wire.stream import StreamEvent


def frame(event: StreamEvent) -> bytes:
    data = event.model_dump_json(exclude_none=_sparse(event))
    return f"event: {event.type}\ndata: {data}\n\n".encode()


def _sparse(event: StreamEvent) -> bool:
    """Only the error event drops absent fields (`details`); others keep their nulls."""
    return event.type == "error"


async def encode(events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield frame(event)
