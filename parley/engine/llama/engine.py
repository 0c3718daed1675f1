"""LlamaEngine: implements `ports.Engine` over a LlamaModel, its chat template and scheduler."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from parley.domain.catalog import ModelEntry
from parley.domain.ports import (
    EngineEvent,
    GenerateRequest,
    GenerationEnd,
    RenderedPrompt,
    TokenOut,
)
from parley.domain.prompt import Conversation
from parley.domain.tools import GENERIC, NATIVE
from parley.engine.llama.devices import describe, devices, gpu_backend, in_use, resolve_offload
from parley.engine.llama.grammar import Grammars, grammars_for
from parley.engine.llama.model import ContextShape, LlamaModel
from parley.engine.llama.prompting import PromptRenderer
from parley.engine.llama.scheduler import Scheduler, SchedulerLimits
from parley.engine.llama.stats import EngineStats
from parley.engine.llama.templates import choose_template
from parley.metrics import Metrics
from parley.settings import EngineSettings

log = logging.getLogger(__name__)


class LlamaEngine:
    def __init__(
        self, path: Path, settings: EngineSettings, *, entry: ModelEntry, metrics: Metrics
    ) -> None:
        """Refuses (ValueError, saying what to set) a model whose chat format is unknown or
        whose window is past what it was trained on without a context extension."""
        shape = ContextShape(
            kv_cells=settings.kv_cells,
            sequence_ids=settings.max_sequences + settings.prefix_entries,
            batch_tokens=settings.batch_tokens,
            threads=settings.threads,
            extra_buffers=settings.extra_buffers,
            extension=entry.context_extension,
        )
        offload = resolve_offload(settings, gpu_backend())
        self._model = LlamaModel(path, shape, offload)
        try:
            _check_window(entry, self._model.train_context)
            self.chat = choose_template(
                model_id=entry.id,
                setting=entry.chat_template,
                embedded=self._model.metadata("tokenizer.chat_template"),
                architecture=self._model.metadata("general.architecture"),
                is_special_token=self._model.is_special_token,
            )
        except ValueError:
            self._model.close()
            raise
        self.context_window = min(entry.context_window, settings.kv_cells)
        self.tool_format = NATIVE.get(self.chat.format or "", GENERIC)
        self._renderer = PromptRenderer(self._model, self.chat.source)
        backend, used = describe(in_use(offload, devices()))
        log.info(
            "model %s on %s (%s): n_gpu_layers=%d flash_attn=%s",
            entry.id,
            backend,
            used,
            offload.n_gpu_layers,
            offload.flash_attn,
        )
        metrics.device_info.labels(
            entry.id, backend, used, str(offload.n_gpu_layers), offload.flash_attn
        ).set(1)
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
            stats=EngineStats(metrics, entry.id, self._model.bytes_per_cell),
            seed=settings.seed,
        )
        self._scheduler.start()

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        return self._renderer.render(conversation, block_ends=block_ends)

    def generate(self, request: GenerateRequest) -> LlamaStream:
        """Compiles the request's constraints first: a schema that cannot be enforced is a
        400 before anything is queued."""
        return LlamaStream(self._scheduler, request, grammars_for(request))

    def check_room(self, priority: int) -> None:
        self._scheduler.check_room(priority)

    async def close(self) -> None:
        await asyncio.to_thread(self._scheduler.stop)
        self._model.close()


def _check_window(entry: ModelEntry, trained: int) -> None:
    extension = entry.context_extension
    usable = (
        trained
        if extension is None
        else int((extension.trained_window or trained) * extension.factor)
    )
    if entry.context_window > usable:
        raise ValueError(
            f"model {entry.id!r}: context_window {entry.context_window} is past the {usable} "
            f"tokens it can attend to (trained on {trained}); lower context_window or set "
            "context_extension (RoPE scaling: method and factor) in its [[models]] entry"
        )


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
