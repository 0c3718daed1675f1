"""The contract's order of a streamed message's events: `message_start`; each content block's
start, deltas and stop, with one `ping` after the first block starts (as hosted);
`message_delta` with the stop reason and the final usage; `message_stop`. An error after the
stream has started travels as an `error` event, since the 200 is already sent."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from parley.errors import ParleyError
from parley.services.generation import Outcome
from parley.services.prepared import PreparedMessage
from parley.wire.errors import ErrorObject
from parley.wire.stream import (
    ContentBlockStartEvent,
    ErrorEvent,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    StreamEvent,
)

log = logging.getLogger(__name__)


class StreamSequencer:
    def __init__(self, prepared: PreparedMessage) -> None:
        self._prepared = prepared
        self._pinged = False

    def start(self) -> MessageStartEvent:
        return MessageStartEvent(message=self._prepared.message([], None))

    def blocks(self, events: Iterable[StreamEvent]) -> Iterator[StreamEvent]:
        for event in events:
            yield event
            if not self._pinged and isinstance(event, ContentBlockStartEvent):
                self._pinged = True
                yield PingEvent()

    def delta(self, outcome: Outcome) -> MessageDeltaEvent:
        """The stop reason and the same usage the JSON answer reports (cumulative)."""
        usage = self._prepared.usage(outcome.output_tokens)
        return MessageDeltaEvent(
            delta=MessageDelta(
                stop_reason=outcome.stop_reason, stop_sequence=outcome.stop_sequence
            ),
            usage=MessageDeltaUsage(
                input_tokens=usage.input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                output_tokens=usage.output_tokens,
            ),
        )

    def stop(self) -> MessageStopEvent:
        """Sent only after the request is in the ledger."""
        return MessageStopEvent()

    def error(self, exc: Exception) -> ErrorEvent:
        request_id = self._prepared.request_id
        if isinstance(exc, ParleyError):
            if exc.status >= 500 and exc.status != 529:  # a server fault: its traceback too
                log.error(
                    "request %s failed mid-stream: %s %s",
                    request_id,
                    exc.status,
                    exc.message,
                    exc_info=exc,
                    extra={"request_id": request_id},
                )
            error = ErrorObject(
                type=exc.error_type, message=exc.message, details=exc.details or None
            )
        else:
            log.error(
                "generation failed mid-stream (request %s)",
                request_id,
                exc_info=exc,
                extra={"request_id": request_id},
            )
            error = ErrorObject(type="api_error", message="Internal server error")
        return ErrorEvent(error=error, request_id=request_id)
