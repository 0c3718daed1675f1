"""The decode loop: one thread per model batches every running job into each llama_decode.

Each step gives every decoding job one token, then fills the rest of the batch with chunks of
waiting prompts, so a long prompt never freezes the streams already running.

KV cells are budgeted: a job is admitted only when its own need (prompt + max_tokens, capped by
the context window, less the prefix it shares from the cache) fits beside the cached prefixes
and the other jobs' needs; least recently used prefixes are evicted to make room. A decode can
then never run out of cache mid-answer.

A request is refused with a 529 when the queue is full or when it could not start within
`max_queue_wait_s` (admission.py estimates the wait from the work ahead and measured costs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import llama_cpp as llama

from parley.domain.ports import EndReason, GenerateRequest, GenerationEnd, TokenOut
from parley.engine.llama.admission import TokenCosts, start_delay
from parley.engine.llama.grammar import CallGrammar, Grammars
from parley.engine.llama.interrupt import ABORTED, Interrupt
from parley.engine.llama.job import Emit, Job
from parley.engine.llama.kv_cells import KvCells
from parley.engine.llama.model import LlamaModel
from parley.engine.llama.prefix_cache import Change, Evicted, Match, PrefixCache, Remove, Share
from parley.engine.llama.sampler import free_sampler, make_sampler
from parley.engine.llama.snapshots import Snapshot, SnapshotStore
from parley.engine.llama.stats import EngineStats
from parley.engine.llama.token_runs import common_length
from parley.errors import InternalServerError, OverloadedError

log = logging.getLogger(__name__)

# Within RECENT_INTERRUPT_S seconds of a step of batch work being interrupted, batch steps
# are kept to about BATCH_STEP_S of measured engine time, so that the next interrupted step
# wastes little, and a long prompt's chunk is not interrupted again and again without ever
# finishing. Otherwise batch work runs in full-size steps.
RECENT_INTERRUPT_S = 10.0
BATCH_STEP_S = 0.1
# Batch work paused behind interactive jobs for BATCH_MAX_PAUSE_S joins their next step with
# a chunk of about BATCH_STEP_S: a steady stream of interactive requests slows batches (to a
# share of about a tenth of the engine) but never stops them until they expire.
BATCH_MAX_PAUSE_S = 1.0
# A waiting job follows a running one that is computing at least this many tokens of its
# prompt (see Scheduler._follows).
FOLLOW_MIN_TOKENS = 256


@dataclass(frozen=True)
class SchedulerLimits:
    max_running: int
    queue_limit: int
    prefix_idle_seconds: float
    max_queue_wait_s: float = float("inf")
    snapshot_bytes: int = 0
    idle_prefix_cells: int = 0


@dataclass(frozen=True)
class Plan:
    """How a job starts: `reused` prompt tokens from the KV tree (`match`) or from a host-RAM
    `snapshot`, and the KV cells it reserves (`need`)."""

    reused: int
    need: int
    snapshot: Snapshot | None
    match: Match | None = None


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
        self._cells = KvCells(model)
        self._waiting: deque[Job] = deque()
        self._running: list[Job] = []
        self._free_ids = list(range(model.shape.sequence_ids))
        self._reserved = 0
        self._costs = TokenCosts()
        # Paused batch work leaves its sequences to interactive jobs, but not their ids.
        ids = model.shape.sequence_ids
        self._batch_room = min(limits.max_running, max(1, ids - 1))
        self._interrupt = Interrupt(model.ctx)
        self._interruptible = False  # a step of batch work alone is under way
        self._interrupted_at = float("-inf")  # when a step of batch work was last stopped
        self._batch_moved_at = time.monotonic()  # when batch work last advanced, or had none
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

    def submit(self, request: GenerateRequest, grammars: Grammars, emit: Emit) -> Job:
        job = Job(request, emit, list(request.prompt), grammars.output, grammars.call)
        with self._wake:
            self._check_room(request.priority)
            self._waiting.append(job)
            if request.priority == 0 and self._interruptible:
                self._interrupt.request()
            self._wake.notify()
        return job

    def check_room(self, priority: int) -> None:
        """OverloadedError if a job of `priority` submitted now would be refused."""
        with self._wake:
            self._check_room(priority)

    def _check_room(self, priority: int) -> None:
        """Under the lock. Only jobs that start before this one count: batch work (a higher
        priority number) queued behind interactive requests must not refuse them."""
        ahead = [
            queued
            for queued in self._waiting
            if queued.request.priority <= priority and not queued.cancelled
        ]
        full = len(ahead) >= self._limits.queue_limit
        # Batch work has no client waiting on it: it queues however long the wait.
        late = priority == 0 and self._expected_wait(ahead) > self._limits.max_queue_wait_s
        if full or late:
            self._stats.rejected.inc()
            raise OverloadedError("Overloaded", headers={"x-should-retry": "true"})

    def _expected_wait(self, ahead: list[Job]) -> float:
        """Under the lock: seconds until an interactive job queued now behind `ahead` would
        start. Running batch work does not count: it pauses while interactive work runs."""

        def left(job: Job) -> float:
            prompt = job.prompt_length - min(job.n_past, job.prompt_length)
            return self._costs.work(prompt, max(0, job.request.max_tokens - job.generated))

        running = [left(job) for job in self._running if job.request.priority == 0]
        waiting = [left(job) for job in ahead]
        return start_delay(running, waiting, self._limits.max_running)

    @property
    def load(self) -> tuple[int, int]:
        """(waiting, running): a snapshot read without the lock, for tests and health."""
        return len(self._waiting), len(self._running)

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
            jobs = [*self._running, *self._waiting]
            self._waiting.clear()
        for job in jobs:
            job.emit(error)
            if job.seq_id >= 0:
                self._finish(job, keep=False)

    def _schedule(self) -> None:
        """Under the lock: drop cancelled waiters, expire idle prefixes, admit what fits."""
        if any(s.cancelled for s in self._waiting):
            self._waiting = deque(s for s in self._waiting if not s.cancelled)
        now = time.monotonic()
        for evicted in self._cache.expired(now, self._limits.prefix_idle_seconds):
            self._evict(evicted, keep_snapshot=False)
        while self._waiting:
            head = self._next()
            if head is None:
                return
            if not self._admit(head, now):
                if not self._running:  # nothing will free cells: waiting would never end
                    self._waiting.remove(head)
                    head.emit(InternalServerError("the KV cache cannot hold this request"))
                return  # first come, first served: no overtaking, so no starvation
            self._waiting.remove(head)

    def _next(self) -> Job | None:
        """The waiting job to start, if one may: interactive ones (the lowest `priority`)
        first, each priority first come, first served, up to `max_running` of them. Batch work
        (priority above 0) starts only while no interactive job runs or waits, and never takes
        the last free sequence id, so an interactive request that arrives finds one at once.
        A job that follows a running one (`_follows`) lets the jobs behind it go first."""
        interactive = sum(1 for job in self._running if job.request.priority == 0)
        batch = len(self._running) - interactive
        # interactive jobs still waiting (they follow others) keep batch work waiting too
        interactive_waiting = any(job.request.priority == 0 for job in self._waiting)
        for job in sorted(self._waiting, key=lambda job: job.request.priority):
            if job.request.priority == 0:
                if interactive >= self._limits.max_running:
                    return None
            elif interactive or interactive_waiting or batch >= self._batch_room:
                return None
            if not self._follows(job):
                return job
        return None

    def _follows(self, job: Job) -> bool:
        """Whether `job` should wait for a running job of its workspace that has yet to
        finish a long prefix of `job`'s prompt: when that job ends its tokens are a cached
        prefix, and reading them costs far less than computing them again beside it on the
        same cores. Only while the other job would end soon, against that computation."""
        if job.prompt_length < FOLLOW_MIN_TOKENS:
            return False
        tenant, prompt = job.request.tenant, job.tokens
        cached: int | None = None
        for other in self._running:
            if other.request.tenant != tenant or other.cancelled:
                continue
            shared = common_length(prompt, other.tokens)
            if shared < FOLLOW_MIN_TOKENS:
                continue
            if cached is None:
                cached = self._cache.cached_length(tenant, prompt)
            if shared - cached < FOLLOW_MIN_TOKENS:
                continue
            other_left = self._costs.work(
                max(0, other.prompt_length - other.n_past),
                max(0, other.request.max_tokens - other.generated),
            )
            if other_left <= 2 * self._costs.work(shared - cached, 0):
                return True
        return False

    def _active(self) -> list[Job]:
        """The jobs this step advances: while interactive jobs run, batch work pauses (it
        keeps its sequence and cells), so their steps cost what they would on an idle
        engine; after BATCH_MAX_PAUSE_S it joins them for a step."""
        interactive = [job for job in self._running if job.request.priority == 0]
        if not interactive:
            return list(self._running)
        if time.monotonic() - self._batch_moved_at < BATCH_MAX_PAUSE_S:
            return interactive
        return interactive + [job for job in self._running if job.request.priority > 0]

    def _admit(self, job: Job, now: float) -> bool:
        tenant, tokens = job.request.tenant, job.tokens
        last = job.prompt_length - 1  # the last prompt token is always computed: logits
        total = min(job.prompt_length + job.request.max_tokens, self._context_window)
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
                self._start(job, plan)
                return True
            if locked is not None:
                self._cache.unlock(locked)
        return False

    def _shed_idle(self, now: float) -> None:
        """Moves cached prefixes that no running job uses to host RAM, least recently used
        first, down to `idle_prefix_cells`. llama.cpp attends over every cell up to the highest
        one in use, so resident idle prefixes slow every other job's prefill and decode;
        a snapshot restores in milliseconds when its prefix comes back."""
        while self._cache.cells > self._limits.idle_prefix_cells:
            evicted = self._cache.evict_one(now)
            if evicted is None:
                return  # what is left is shared with running jobs
            self._evict(evicted, keep_snapshot=True)

    def _make_room(self, need: int, now: float) -> bool:
        capacity = self._model.shape.kv_cells
        while not self._free_ids or self._cache.cells + self._reserved + need > capacity:
            evicted = self._cache.evict_one(now)
            if evicted is None:
                return False
            self._evict(evicted, keep_snapshot=True)
        return True

    def _evict(self, evicted: Evicted, *, keep_snapshot: bool) -> None:
        """Applies an eviction; capacity evictions of long prefixes go to host RAM first."""
        tenant, tokens = evicted.tenant, evicted.tokens
        if keep_snapshot and self._snapshots.worth_keeping(tenant, tokens, evicted.dropped):
            self._save(evicted)  # a pinned prefix (a thread's) is kept there before others
        self._apply(evicted.change)
        self._stats.prefix_evictions.inc()

    def _save(self, evicted: Evicted) -> None:
        size = self._cells.state_size(evicted.seq)
        if size > self._limits.snapshot_bytes:
            return
        with self._unlocked():
            state = self._cells.copy_out(evicted.seq, size)
        if state is not None:
            self._snapshots.put(evicted.tenant, evicted.tokens, state, pinned=evicted.pinned)

    def _start(self, job: Job, plan: Plan) -> None:
        job.seq_id = self._free_ids.pop()
        if job.request.priority > 0:  # only on an engine with no interactive job
            self._batch_moved_at = time.monotonic()
        job.sampler = self._sampler(job)
        if job.call is not None:  # a prefill may have opened the call
            last = job.tokens[-len(job.call.opening) :]  # a token has 1 byte or more
            text = b"".join(self._model.token_text(t, special=True) for t in last)
            self._watch_call(job, job.call, text)
        job.need = plan.need
        reused = plan.reused
        if plan.snapshot is not None:
            reused = self._restore(plan.snapshot, job.seq_id, reused)
        elif reused > 0 and plan.match is not None:
            job.locked = plan.match.node  # locked by _admit; unlocked in _finish
            self._cells.apply([Share(plan.match.seq, job.seq_id, reused)])
        job.n_past = job.reused = reused
        self._stats.prefix_lookup(reused, from_ram=plan.snapshot is not None)
        self._reserved += plan.need
        self._running.append(job)

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
        with self._unlocked():
            loaded = self._cells.copy_in(snapshot.state, seq_id)
        kept = reused if loaded else 0
        self._cells.apply([Remove(seq_id, kept)])
        return kept

    def _apply(self, change: Change) -> None:
        self._cells.apply(change.ops)
        self._free_ids.extend(change.freed)

    def _finish(self, job: Job, *, keep: bool = True) -> None:
        """Keeps what the job computed as a cached prefix, and releases its budget."""
        with self._wake:
            self._running.remove(job)
            self._reserved -= job.need
            free_sampler(job.sampler)
            if job.locked is not None:
                self._cache.unlock(job.locked)
            in_cache = job.tokens[: job.n_past] if keep else []
            if in_cache:
                tenant, now = job.request.tenant, time.monotonic()
                self._apply(self._cache.insert(tenant, in_cache, job.seq_id, now))
                for length, seconds in job.request.pins:
                    if length <= len(in_cache):  # the logical entries' TTLs keep them warm
                        self._cache.pin(tenant, in_cache[:length], now + seconds)
                if job.request.keep_warm:  # a thread's reply: its continue extends all of it
                    self._cache.pin(tenant, in_cache, now + job.request.keep_warm)
            else:
                self._cells.apply([Remove(job.seq_id, 0)])
                self._free_ids.append(job.seq_id)
            job.seq_id = -1

    def _sampler(self, job: Job) -> Any:
        return make_sampler(job.grammar, job.request.sampling, self._seed, self._model.vocab)

    def _watch_call(self, job: Job, call: CallGrammar, piece: bytes) -> None:
        """Once the text ends with a tool call's opening tag, the rest of the call is decoded
        under the call grammar (valid JSON for one of the tools, then the closing tag)."""
        job.tail = (job.tail + piece)[-len(call.opening) :]
        if job.tail != call.opening:
            return
        free_sampler(job.sampler)
        job.grammar, job.call = call.grammar, None
        job.sampler = self._sampler(job)

    def _step(self) -> None:
        for job in [s for s in self._running if s.cancelled]:
            self._finish(job)
        if not self._running:
            return
        started = time.perf_counter()
        self._batch.n_tokens = 0
        active = self._active()
        batch_only = active[0].request.priority > 0
        budget = self._model.shape.batch_tokens
        added: list[tuple[Job, int, int | None]] = []  # what to undo if interrupted
        stepped: list[Job] = []
        for job in active:
            if job.pending is not None:
                added.append((job, 1, job.pending))
                job.logits_index = self._add(job.pending, job, True)
                job.pending = None
                stepped.append(job)
                budget -= 1
        decoded = len(stepped)
        batch_budget = budget  # prompt tokens of batch work in this step
        if not batch_only or time.monotonic() - self._interrupted_at < RECENT_INTERRUPT_S:
            batch_budget = self._costs.prefill_within(BATCH_STEP_S, decoded)
        for job in active:
            remaining = job.prompt_length - job.n_past
            if budget <= 0 or job.logits_index >= 0 or remaining <= 0:
                continue
            chunk = min(budget, remaining)
            if job.request.priority > 0:
                chunk = min(chunk, batch_budget)
                if chunk <= 0:
                    continue
                batch_budget -= chunk
            added.append((job, chunk, None))
            for _ in range(chunk):
                last = job.n_past == job.prompt_length - 1
                index = self._add(job.tokens[job.n_past], job, last)
                if last:
                    job.logits_index = index
                    stepped.append(job)
            budget -= chunk
        prefilled = int(self._batch.n_tokens) - decoded
        if batch_only:
            with self._wake:
                self._schedule()  # an interactive job that came in meanwhile goes first
                if any(job.request.priority == 0 for job in self._running):
                    self._undo(added)
                    return
                self._interrupt.clear()
                self._interruptible = True
        status = llama.llama_decode(self._model.ctx, self._batch)
        if batch_only:
            with self._wake:  # a request from now on must not stop the next step
                self._interruptible = False
                self._interrupt.clear()
        if status == ABORTED:  # llama.cpp took the step's cells back out of the cache
            self._undo(added)
            self._interrupted_at = time.monotonic()
            self._stats.interrupted_steps.inc()
            return
        if status != 0:
            for job in active:
                job.emit(InternalServerError("the model failed to decode this request"))
                self._finish(job, keep=False)
            return
        self._stats.step(decoded, prefilled, time.perf_counter() - started)
        if len(active) == len(self._running):  # no batch work was left paused
            self._batch_moved_at = time.monotonic()
        for job in stepped:
            self._sample(job)
        self._costs.observe(decoded, prefilled, time.perf_counter() - started)

    @staticmethod
    def _undo(added: list[tuple[Job, int, int | None]]) -> None:
        """Puts jobs back as they were before a step that did not run."""
        for job, count, pending in added:
            job.n_past -= count
            job.logits_index = -1
            if pending is not None:
                job.pending = pending

    def _add(self, token: int, job: Job, logits: bool) -> int:
        batch = self._batch
        index = int(batch.n_tokens)
        batch.token[index] = token
        batch.pos[index] = job.n_past
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = job.seq_id
        batch.logits[index] = logits
        batch.n_tokens = index + 1
        job.n_past += 1
        return index

    def _sample(self, job: Job) -> None:
        if job.request.max_tokens == 0:  # a cache pre-warm: the prompt is in, stop here
            job.logits_index = -1
            job.emit(GenerationEnd("max_tokens", reused_tokens=job.reused))
            self._finish(job)
            return
        ctx = self._model.ctx
        token = int(llama.llama_sampler_sample(job.sampler, ctx, job.logits_index))
        job.logits_index = -1
        job.generated += 1
        end_of_generation = self._model.is_end_of_generation(token)
        piece = b"" if end_of_generation else self._model.token_text(token)
        if job.call is not None:
            self._watch_call(job, job.call, piece)
        job.emit(TokenOut(token=token, piece=piece))
        reason: EndReason | None = None
        if end_of_generation:
            reason = "end_of_generation"
        elif job.generated >= job.request.max_tokens:
            reason = "max_tokens"
        elif job.prompt_length + job.generated >= self._context_window:
            reason = "context_window"
        if reason is None:
            job.pending = token
            job.tokens.append(token)
            return
        job.emit(GenerationEnd(reason, reused_tokens=job.reused))
        self._finish(job)
