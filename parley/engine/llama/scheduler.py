"""The decode loop: one thread per model batches every running sequence into each llama_decode.

Each step gives every decoding sequence one token, then fills the rest of the batch with chunks
of waiting prompts, so a long prompt never freezes the streams already running.

KV cells are budgeted: a sequence is admitted only when its own need (prompt + max_tokens,
capped by the context window, less the prefix it shares from the cache) fits beside the cached
prefixes and the other sequences' needs; least recently used prefixes are evicted to make room.
A decode can then never run out of cache mid-answer.
"""

from __future__ import annotations

import ctypes
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import llama_cpp as llama
import numpy as np
import numpy.typing as npt

from parley.domain.ports import EndReason, EngineEvent, GenerateRequest, GenerationEnd, TokenOut
from parley.domain.tools import CALL_OPEN
from parley.engine.llama.model import LlamaModel
from parley.engine.llama.prefix_cache import (
    Change,
    Evicted,
    Match,
    Node,
    PrefixCache,
    Remove,
    Share,
)
from parley.engine.llama.snapshots import Snapshot, SnapshotStore
from parley.engine.llama.stats import EngineStats
from parley.errors import InternalServerError, OverloadedError

Emit = Callable[[EngineEvent | BaseException], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerLimits:
    max_running: int
    queue_limit: int
    prefix_idle_seconds: float
    snapshot_bytes: int = 0
    idle_prefix_cells: int = 0


SNAPSHOT_MIN_TOKENS = 256  # shorter prefixes recompute faster than a snapshot restores


def _pointer(state: npt.NDArray[np.uint8]) -> ctypes._Pointer[ctypes.c_uint8]:
    return state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


@dataclass(frozen=True)
class Plan:
    """How a sequence starts: `reused` prompt tokens from the KV tree (`match`) or from a
    host-RAM `snapshot`, and the KV cells it reserves (`need`)."""

    reused: int
    need: int
    snapshot: Snapshot | None
    match: Match | None = None


@dataclass(eq=False)
class Sequence:
    request: GenerateRequest
    emit: Emit
    tokens: list[int]
    cancelled: bool = False
    seq_id: int = -1
    need: int = 0
    n_past: int = 0
    reused: int = 0
    generated: int = 0
    pending: int | None = None
    logits_index: int = -1
    sampler: Any = None
    locked: Node | None = None
    tail: bytes = b""  # the text's last bytes, to see a tool call begin
    prompt_length: int = field(init=False)

    def __post_init__(self) -> None:
        self.prompt_length = len(self.tokens)

    def cancel(self) -> None:
        """Called from any thread; the scheduler frees the sequence at its next step."""
        self.cancelled = True


def _make_sampler(request: GenerateRequest, base_seed: int, vocab: Any) -> Any:
    chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
    if request.grammar is not None:  # first: it masks every token the grammar forbids
        grammar = llama.llama_sampler_init_grammar(vocab, request.grammar.encode(), b"root")
        llama.llama_sampler_chain_add(chain, grammar)
    sampling = request.sampling
    if sampling.temperature <= 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
        return chain
    if sampling.top_k:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(sampling.top_k))
    if sampling.top_p is not None and sampling.top_p < 1.0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(sampling.top_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(sampling.temperature))
    seed = base_seed or secrets.randbits(32)
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed))
    return chain


class Scheduler:
    def __init__(
        self,
        model: LlamaModel,
        *,
        context_window: int,
        limits: SchedulerLimits,
        stats: EngineStats,
        seed: int = 0,
    ) -> None:
        self._model = model
        self._context_window = context_window
        self._limits = limits
        self._stats = stats
        self._seed = seed
        self._cache = PrefixCache()
        self._snapshots = SnapshotStore(limits.snapshot_bytes)
        self._waiting: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._free_ids = list(range(model.shape.sequence_ids))
        self._reserved = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._batch = llama.llama_batch_init(model.shape.batch_tokens, 0, 1)
        self._thread = threading.Thread(target=self._loop, name="parley-decode", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()
        llama.llama_batch_free(self._batch)

    def submit(self, request: GenerateRequest, emit: Emit) -> Sequence:
        sequence = Sequence(request=request, emit=emit, tokens=list(request.prompt))
        with self._wake:
            if len(self._waiting) >= self._limits.queue_limit:
                self._stats.rejected.inc()
                raise OverloadedError("Overloaded", headers={"x-should-retry": "true"})
            self._waiting.append(sequence)
            self._wake.notify()
        return sequence

    @property
    def load(self) -> tuple[int, int]:
        """(waiting, running): a snapshot read without the lock, for tests and health."""
        return len(self._waiting), len(self._running)

    def cached_length(self, tenant: str, tokens: list[int]) -> int:
        """How much of `tokens` the physical cache holds for `tenant` (a snapshot)."""
        with self._wake:
            return self._cache.cached_length(tenant, tokens)

    def pin(self, tenant: str, tokens: list[int], seconds: float) -> int:
        with self._wake:
            return self._cache.pin(tenant, tokens, time.monotonic() + seconds)

    def _loop(self) -> None:
        while True:
            try:
                with self._wake:
                    self._schedule()
                    while not self._running and not self._stopping:
                        self._wake.wait(timeout=self._limits.prefix_idle_seconds)
                        self._schedule()
                    if self._stopping:
                        break
                self._step()
                self._stats.observe(
                    len(self._waiting), len(self._running), self._cache, self._snapshots
                )
            except Exception:
                # never die silently: a dead decode thread would leave every request hanging
                log.exception("the decode loop failed; failing the requests it held")
                self._fail_everything(InternalServerError("the engine failed on this request"))
        self._fail_everything(InternalServerError("the server is shutting down"))

    def _fail_everything(self, error: InternalServerError) -> None:
        with self._wake:
            sequences = [*self._running, *self._waiting]
            self._waiting.clear()
        for sequence in sequences:
            sequence.emit(error)
            if sequence.seq_id >= 0:
                self._finish(sequence, keep=False)

    def _schedule(self) -> None:
        """Under the lock: drop cancelled waiters, expire idle prefixes, admit what fits."""
        if any(s.cancelled for s in self._waiting):
            self._waiting = deque(s for s in self._waiting if not s.cancelled)
        now = time.monotonic()
        for evicted in self._cache.expired(now, self._limits.prefix_idle_seconds):
            self._evict(evicted, keep_snapshot=False)
        while self._waiting and len(self._running) < self._limits.max_running:
            head = self._waiting[0]
            if not self._admit(head, now):
                if not self._running:  # nothing will free cells: waiting would never end
                    self._waiting.popleft()
                    head.emit(InternalServerError("the KV cache cannot hold this request"))
                return  # first come, first served: no overtaking, so no starvation
            self._waiting.popleft()

    def _admit(self, sequence: Sequence, now: float) -> bool:
        tenant, tokens = sequence.request.tenant, sequence.tokens
        last = sequence.prompt_length - 1  # the last prompt token is always computed: logits
        total = min(sequence.prompt_length + sequence.request.max_tokens, self._context_window)
        match = self._cache.match(tenant, tokens, now)
        snapshot_length, snapshot = self._snapshots.best(tenant, tokens)
        if snapshot is not None and min(snapshot_length, last) > match.length + 64:
            plans = [Plan(min(snapshot_length, last), max(total, snapshot.length), snapshot)]
        else:
            reused = min(match.length, last)
            plans = [Plan(reused, total - reused, None, match)] if reused else []
        plans.append(Plan(0, total, None))  # reuse may pin the only leaf that could make room
        for plan in plans:
            locked = plan.match.node if plan.match is not None else None
            if locked is not None:
                self._cache.lock(locked)
            self._shed_idle(now)
            if self._make_room(plan.need, now):
                self._start(sequence, plan)
                return True
            if locked is not None:
                self._cache.unlock(locked)
        return False

    def _shed_idle(self, now: float) -> None:
        """Moves cached prefixes that no running sequence uses to host RAM, least recently used
        first, down to `idle_prefix_cells`. llama.cpp attends over every cell up to the highest
        one in use, so resident idle prefixes slow every other sequence's prefill and decode;
        a snapshot restores in milliseconds when its prefix comes back."""
        while self._cache.cells > self._limits.idle_prefix_cells:
            evicted = self._cache.evict_one(now)
            if evicted is None:
                return  # what is left is shared with running sequences
            self._evict(evicted, keep_snapshot=True)

    def _make_room(self, need: int, now: float) -> bool:
        while not self._free_ids or self._cache.cells + self._reserved + need > self._capacity():
            evicted = self._cache.evict_one(now)
            if evicted is None:
                return False
            self._evict(evicted, keep_snapshot=True)
        return True

    def _capacity(self) -> int:
        return self._model.shape.kv_cells

    def _evict(self, evicted: Evicted, *, keep_snapshot: bool) -> None:
        """Applies an eviction; capacity evictions of long prefixes go to host RAM first."""
        if keep_snapshot and self._worth_saving(evicted):
            self._save(evicted)
        self._apply(evicted.change)
        self._stats.prefix_evictions.inc()

    def _worth_saving(self, evicted: Evicted) -> bool:
        """Long enough to beat recomputing, and not already in RAM but for a short tail (a
        prefix restored from a snapshot, to which one question and answer were added)."""
        if evicted.dropped < SNAPSHOT_MIN_TOKENS:
            return False
        covered, _ = self._snapshots.best(evicted.tenant, evicted.tokens)
        return len(evicted.tokens) - covered >= SNAPSHOT_MIN_TOKENS

    def _save(self, evicted: Evicted) -> None:
        ctx = self._model.ctx
        size = llama.llama_state_seq_get_size(ctx, evicted.seq)
        if size > self._limits.snapshot_bytes:
            return
        state = np.empty(size, dtype=np.uint8)
        with self._unlocked():
            written = llama.llama_state_seq_get_data(ctx, _pointer(state), size, evicted.seq)
        if written:
            self._snapshots.put(evicted.tenant, evicted.tokens, state[:written])

    def _start(self, sequence: Sequence, plan: Plan) -> None:
        sequence.seq_id = self._free_ids.pop()
        sequence.sampler = _make_sampler(sequence.request, self._seed, self._model.vocab)
        if sequence.request.call_grammar is not None:  # a prefill may have opened the call
            last = sequence.tokens[-8:]
            text = b"".join(self._model.token_text(t, special=True) for t in last)
            self._watch_call(sequence, text)
        sequence.need = plan.need
        reused = plan.reused
        if plan.snapshot is not None:
            reused = self._restore(plan.snapshot, sequence.seq_id, reused)
        elif reused > 0 and plan.match is not None:
            sequence.locked = plan.match.node  # locked by _admit; unlocked in _finish
            llama.llama_memory_seq_cp(
                self._model.memory, plan.match.seq, sequence.seq_id, 0, reused
            )
        sequence.n_past = sequence.reused = reused
        self._stats.prefix_lookup(reused, from_ram=plan.snapshot is not None)
        self._reserved += plan.need
        self._running.append(sequence)

    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        """Lets go of the lock (held once, by the decode thread) around a copy of tens of MB,
        so `submit` on the event loop does not wait for it. Only this thread touches the KV
        cells, and the tree is consistent at every call site."""
        self._wake.release()
        try:
            yield
        finally:
            self._wake.acquire()

    def _restore(self, snapshot: Snapshot, seq_id: int, reused: int) -> int:
        """Loads a snapshot into `seq_id` and keeps its first `reused` cells; 0 if it failed."""
        memory = self._model.memory
        size = len(snapshot.state)
        with self._unlocked():
            loaded = llama.llama_state_seq_set_data(
                self._model.ctx, _pointer(snapshot.state), size, seq_id
            )
        if loaded == 0:
            llama.llama_memory_seq_rm(memory, seq_id, -1, -1)
            return 0
        llama.llama_memory_seq_rm(memory, seq_id, reused, -1)
        return reused

    def _apply(self, change: Change) -> None:
        memory = self._model.memory
        for op in change.ops:
            if isinstance(op, Remove):
                llama.llama_memory_seq_rm(memory, op.seq, op.start, op.end)
            elif isinstance(op, Share):
                llama.llama_memory_seq_cp(memory, op.source, op.target, 0, op.length)
        self._free_ids.extend(change.freed)

    def _finish(self, sequence: Sequence, *, keep: bool = True) -> None:
        """Keeps what the sequence computed as a cached prefix, and releases its budget."""
        with self._wake:
            self._running.remove(sequence)
            self._reserved -= sequence.need
            llama.llama_sampler_free(sequence.sampler)
            if sequence.locked is not None:
                self._cache.unlock(sequence.locked)
            in_cache = sequence.tokens[: sequence.n_past] if keep else []
            if in_cache:
                tenant, now = sequence.request.tenant, time.monotonic()
                self._apply(self._cache.insert(tenant, in_cache, sequence.seq_id, now))
                for length, seconds in sequence.request.pins:
                    if length <= len(in_cache):  # the logical entries' TTLs keep them warm
                        self._cache.pin(tenant, in_cache[:length], now + seconds)
            else:
                llama.llama_memory_seq_rm(self._model.memory, sequence.seq_id, -1, -1)
                self._free_ids.append(sequence.seq_id)
            sequence.seq_id = -1

    def _watch_call(self, sequence: Sequence, piece: bytes) -> None:
        """Once the text ends with a tool call's opening tag, the rest of the call is decoded
        under the call grammar (valid JSON for one of the tools, then the closing tag)."""
        sequence.tail = (sequence.tail + piece)[-32:]
        request = sequence.request
        if request.call_grammar is None or not sequence.tail.endswith(CALL_OPEN.encode()):
            return
        llama.llama_sampler_free(sequence.sampler)
        constrained = replace(request, grammar=request.call_grammar, call_grammar=None)
        sequence.request = constrained
        sequence.sampler = _make_sampler(constrained, self._seed, self._model.vocab)

    def _step(self) -> None:
        for sequence in [s for s in self._running if s.cancelled]:
            self._finish(sequence)
        if not self._running:
            return
        started = time.perf_counter()
        self._batch.n_tokens = 0
        budget = self._model.shape.batch_tokens
        stepped: list[Sequence] = []
        for sequence in self._running:
            if sequence.pending is not None:
                sequence.logits_index = self._add(sequence.pending, sequence, True)
                sequence.pending = None
                stepped.append(sequence)
                budget -= 1
        decoded = len(stepped)
        for sequence in self._running:
            remaining = sequence.prompt_length - sequence.n_past
            if budget <= 0 or sequence.logits_index >= 0 or remaining <= 0:
                continue
            chunk = min(budget, remaining)
            for _ in range(chunk):
                last = sequence.n_past == sequence.prompt_length - 1
                index = self._add(sequence.tokens[sequence.n_past], sequence, last)
                if last:
                    sequence.logits_index = index
                    stepped.append(sequence)
            budget -= chunk
        prefilled = int(self._batch.n_tokens) - decoded
        if llama.llama_decode(self._model.ctx, self._batch) != 0:
            for sequence in list(self._running):
                sequence.emit(InternalServerError("the model failed to decode this request"))
                self._finish(sequence, keep=False)
            return
        self._stats.step(decoded, prefilled, time.perf_counter() - started)
        for sequence in stepped:
            self._sample(sequence)

    def _add(self, token: int, sequence: Sequence, logits: bool) -> int:
        batch = self._batch
        index = int(batch.n_tokens)
        batch.token[index] = token
        batch.pos[index] = sequence.n_past
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = sequence.seq_id
        batch.logits[index] = logits
        batch.n_tokens = index + 1
        sequence.n_past += 1
        return index

    def _sample(self, sequence: Sequence) -> None:
        if sequence.request.max_tokens == 0:  # a cache pre-warm: the prompt is in, stop here
            sequence.logits_index = -1
            sequence.emit(GenerationEnd("max_tokens", reused_tokens=sequence.reused))
            self._finish(sequence)
            return
        ctx = self._model.ctx
        token = int(llama.llama_sampler_sample(sequence.sampler, ctx, sequence.logits_index))
        sequence.logits_index = -1
        sequence.generated += 1
        end_of_generation = self._model.is_end_of_generation(token)
        piece = b"" if end_of_generation else self._model.token_text(token)
        if sequence.request.call_grammar is not None:
            self._watch_call(sequence, piece)
        sequence.emit(TokenOut(token=token, piece=piece))
        reason: EndReason | None = None
        if end_of_generation:
            reason = "end_of_generation"
        elif sequence.generated >= sequence.request.max_tokens:
            reason = "max_tokens"
        elif sequence.prompt_length + sequence.generated >= self._context_window:
            reason = "context_window"
        if reason is None:
            sequence.pending = token
            sequence.tokens.append(token)
            return
        sequence.emit(GenerationEnd(reason, reused_tokens=sequence.reused))
        self._finish(sequence)
