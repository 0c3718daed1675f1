"""FakeEngine: implements `ports.Engine` without a model, for tests of what surrounds
generation (keys, limits, billing arithmetic, admin), where a real model only adds time.

Its tokenizer is one token per whitespace-separated word, so a test can count a prompt by hand:
each turn is a token for its role and then one per word of its text, and the prompt ends with a
token for the assistant's turn followed by the prefill's words. A block ends after its last
word. The answer is a scripted text, one token per word.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from parley.domain.ports import (
    EndReason,
    EngineEvent,
    GenerateRequest,
    GenerationEnd,
    RenderedPrompt,
    TokenOut,
)
from parley.domain.prompt import Conversation
from parley.domain.tools import GENERIC
from parley.errors import OverloadedError

ANSWER = "This is the fake engine's scripted answer."


def fake_token(word: str) -> int:
    """The same word is the same token in every FakeEngine, so prefixes match across apps."""
    return zlib.crc32(word.encode()) & 0x7FFFFFFF


def fake_tokens(text: str) -> list[int]:
    return [fake_token(word) for word in text.split()]


class FakeEngine:
    """`answer`: what every generation says (each word a token; the words after the first
    carry their leading space). `overloaded`: refuse every generation with a 529, as a full
    queue does; `full`: refuse already when asked before rendering (`check_room`).
    `requests` and `rendered`: what was asked of it, for assertions."""

    def __init__(self, answer: str = ANSWER, *, context_window: int = 8192) -> None:
        self.answer = answer
        self.context_window = context_window
        self.tool_format = GENERIC
        self.overloaded = False
        self.full = False
        self.closed = False
        self.requests: list[GenerateRequest] = []
        self.rendered = 0

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        self.rendered += 1
        tokens: list[int] = []
        ends: dict[int, int] = {}
        for turn in conversation.turns:
            tokens.append(fake_token(f"<{turn.role}>"))
            _append(tokens, ends, turn.text, turn.marks)
        tokens.append(fake_token("<assistant>"))
        _append(tokens, ends, conversation.prefill, conversation.prefill_marks)
        positions: list[int | None] = []
        last = 0
        for block in range(len(conversation.blocks)):
            last = ends.get(block, last)  # a block that renders nothing ends where the last did
            positions.append(last if block_ends else None)
        return RenderedPrompt(tokens, positions)

    def generate(self, request: GenerateRequest) -> FakeStream:
        if self.overloaded:
            raise OverloadedError("Overloaded", headers={"x-should-retry": "true"})
        self.requests.append(request)
        words = self.answer.split(" ")
        pieces = [words[0], *(" " + word for word in words[1:])] if self.answer else []
        room = self.context_window - len(request.prompt)
        return FakeStream(pieces, request.max_tokens, room)

    def check_room(self, priority: int) -> None:
        if self.full:
            raise OverloadedError("Overloaded", headers={"x-should-retry": "true"})

    async def close(self) -> None:
        self.closed = True


def _append(
    tokens: list[int], ends: dict[int, int], text: str, marks: Sequence[tuple[int, int]]
) -> None:
    for block, offset in marks:
        ends[block] = len(tokens) + len(text[:offset].split())
    tokens.extend(fake_tokens(text))


class FakeStream:
    """Yields `pieces` (as many as `max_tokens` and the context window allow), then the end."""

    def __init__(self, pieces: Sequence[str], max_tokens: int, room: int) -> None:
        self._events = self._run(pieces, max_tokens, room)

    async def _run(
        self, pieces: Sequence[str], max_tokens: int, room: int
    ) -> AsyncGenerator[EngineEvent, None]:
        allowed = max(0, min(max_tokens, room))
        for piece in pieces[:allowed]:
            await asyncio.sleep(0)  # other requests run between tokens, as on a real engine
            yield TokenOut(fake_token(piece), piece.encode())
        reason: EndReason = "end_of_generation"
        if max_tokens == 0 or len(pieces) > allowed:
            reason = "max_tokens" if allowed == max_tokens else "context_window"
        yield GenerationEnd(reason)

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self._events

    async def aclose(self) -> None:
        await self._events.aclose()
