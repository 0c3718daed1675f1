"""Turns an engine's token stream into text pieces and an outcome: UTF-8 reassembly across
tokens, stop sequences (also across tokens), and the contract's stop reasons."""

from __future__ import annotations

import codecs
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from parley.domain.ports import EndReason, EngineStream, GenerationEnd
from parley.domain.stopping import StopMatcher
from parley.wire.messages import StopReason

STOP_REASONS: dict[EndReason, StopReason] = {
    "end_of_generation": "end_turn",
    "max_tokens": "max_tokens",
    "context_window": "model_context_window_exceeded",
}


@dataclass(frozen=True)
class Outcome:
    stop_reason: StopReason
    stop_sequence: str | None
    output_tokens: int

    def with_tool_use(self, called: bool) -> Outcome:
        """An answer that called a tool stops for that reason, whatever ended the text."""
        return replace(self, stop_reason="tool_use") if called else self


@dataclass
class Progress:
    """Tokens generated so far: what a request that ends early (the client left) has used;
    and when the first came (monotonic seconds), for the access log's time to first token."""

    output_tokens: int = 0
    first_token_at: float | None = None


async def run_generation(
    events: EngineStream, stop_sequences: Sequence[str], progress: Progress | None = None
) -> AsyncIterator[str | Outcome]:
    """Yields text pieces as they become safe to show, then exactly one Outcome. The caller
    owns `events` and closes it."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    matcher = StopMatcher(stop_sequences)
    progress = progress or Progress()
    output_tokens = 0
    async for event in events:
        if isinstance(event, GenerationEnd):
            text, stop = matcher.feed(decoder.decode(b"", final=True))
            text += "" if stop else matcher.flush()
            if text:
                yield text
            reason: StopReason = "stop_sequence" if stop else STOP_REASONS[event.reason]
            yield Outcome(reason, stop, output_tokens)
            return
        output_tokens += 1
        progress.output_tokens = output_tokens
        if progress.first_token_at is None:
            progress.first_token_at = time.monotonic()
        text, stop = matcher.feed(decoder.decode(event.piece))
        if text:
            yield text
        if stop is not None:
            yield Outcome("stop_sequence", stop, output_tokens)
            return
