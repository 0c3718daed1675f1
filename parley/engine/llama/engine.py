"""LlamaEngine: implements `ports.Engine` over a LlamaModel, its chat template and scheduler."""

from __future__ import annotations

import asyncio
import threading
import time
from bisect import bisect_right
from collections.abc import AsyncIterator, Sequence
from itertools import accumulate
from pathlib import Path

from parley.domain.ports import (
    EngineEvent,
    GenerateRequest,
    GenerationEnd,
    RenderedPrompt,
    TokenOut,
)
from parley.domain.prompt import Conversation
from parley.engine.llama.chat import ChatTemplate
from parley.engine.llama.grammar import Grammars, grammars_for
from parley.engine.llama.model import ContextShape, LlamaModel
from parley.engine.llama.scheduler import Scheduler, SchedulerLimits
from parley.engine.llama.stats import EngineStats
from parley.metrics import Metrics
from parley.settings import EngineSettings


class LlamaEngine:
    def __init__(
        self,
        path: Path,
        settings: EngineSettings,
        *,
        model_id: str,
        context_window: int,
        metrics: Metrics,
    ) -> None:
        shape = ContextShape(
            kv_cells=settings.kv_cells,
            sequence_ids=settings.max_sequences + settings.prefix_entries,
            batch_tokens=settings.batch_tokens,
            threads=settings.threads,
            extra_buffers=settings.extra_buffers,
        )
        self._model = LlamaModel(path, shape)
        self.context_window = min(context_window, settings.kv_cells)
        self._template = ChatTemplate(
            self._model.metadata("tokenizer.chat_template"),
            bos_token=self._model.token_text(self._model.bos, special=True).decode(),
            eos_token=self._model.token_text(self._model.eos, special=True).decode(),
        )
        self._scheduler = Scheduler(
            self._model,
            context_window=self.context_window,
            limits=SchedulerLimits(
                max_running=settings.max_sequences,
                queue_limit=settings.queue_limit,
                max_queue_wait_s=settings.max_queue_wait_s,
                prefix_idle_seconds=settings.prefix_idle_seconds,
                snapshot_bytes=settings.cache_ram_mb * 1024 * 1024,
                idle_prefix_cells=settings.idle_prefix_cells,
            ),
            stats=EngineStats(metrics, model_id, self._model.bytes_per_cell),
            seed=settings.seed,
        )
        self._scheduler.start()
        self._pieces: dict[int, bytes] = {}

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        text = self._template.render(conversation)
        tokens = self._model.tokenize(text, add_bos=self._model.add_bos)
        if len(tokens) > 1 and tokens[0] == tokens[1] == self._model.bos:
            del tokens[0]  # the template wrote a BOS of its own
        ends: list[int | None] = [None] * len(conversation.blocks)
        if block_ends and conversation.blocks:
            offsets = self._template.block_ends(conversation, text)
            if None not in offsets:
                ends = self._token_positions(text, tokens, offsets)
        return RenderedPrompt(tokens, ends)

    def _token_positions(
        self, text: str, tokens: list[int], offsets: Sequence[int | None]
    ) -> list[int | None]:
        """Character offsets in `text` -> how many tokens end at or before each: the token
        position of a block's end. Tokens spanning a block end belong to what follows it."""
        pieces = [self._piece(token) for token in tokens]
        token_ends = list(accumulate(len(piece) for piece in pieces))
        encoded = text.encode()
        lead = (token_ends[-1] if token_ends else 0) - len(encoded)  # e.g. a BOS's own text
        if lead < 0 or b"".join(pieces)[lead:] != encoded:
            return [None] * len(offsets)  # the tokenizer normalised the text: no exact map
        positions: list[int | None] = []
        done_chars = done_bytes = 0
        for offset in offsets:
            assert offset is not None and offset >= done_chars
            done_bytes += len(text[done_chars:offset].encode())
            done_chars = offset
            positions.append(bisect_right(token_ends, done_bytes + lead))
        return positions

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self._model.token_text(token, special=True)
        return piece

    def generate(self, request: GenerateRequest) -> LlamaStream:
        """Compiles the request's constraints first: a schema that cannot be enforced is a
        400 before anything is queued."""
        return LlamaStream(self._scheduler, request, grammars_for(request))

    async def close(self) -> None:
        await asyncio.to_thread(self._scheduler.stop)
        self._model.close()


class LlamaStream:
    """Bridges the decode thread to asyncio. Events are handed over in batches: waking the
    event loop for every token costs a context switch that stalls llama.cpp's worker threads
    on a small machine, so the decode thread wakes it for the first token, for the last
    event, and otherwise at most every FLUSH_SECONDS."""

    FLUSH_SECONDS = 0.02

    def __init__(self, scheduler: Scheduler, request: GenerateRequest, grammars: Grammars) -> None:
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[EngineEvent | BaseException] = asyncio.Queue()
        self._pending: list[EngineEvent | BaseException] = []
        self._lock = threading.Lock()
        self._flushed_at: float | None = None
        self._done = False
        self._job = scheduler.submit(request, grammars, self._emit)

    def _emit(self, event: EngineEvent | BaseException) -> None:
        """Runs on the decode thread."""
        now = time.monotonic()
        final = not isinstance(event, TokenOut)
        with self._lock:
            self._pending.append(event)
            due = self._flushed_at is None or now - self._flushed_at >= self.FLUSH_SECONDS
            if not (final or due):
                return
            self._flushed_at = now
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            self._job.cancel()

    def _deliver(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        for event in events:
            self._events.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self

    async def __anext__(self) -> EngineEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._events.get()
        if isinstance(event, BaseException):
            self._done = True
            raise event
        self._done = isinstance(event, GenerationEnd)
        return event

    async def aclose(self) -> None:
        self._done = True
        self._job.cancel()
