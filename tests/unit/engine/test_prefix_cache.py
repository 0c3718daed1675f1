"""The radix tree of cached prefixes, driven directly (the SGLang habit), against a simulated
unified KV cache that applies its `seq_rm` / `seq_cp` operations the way llama.cpp does."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.engine.llama.prefix_cache import Change, PrefixCache, Remove, Share


class SimulatedKv:
    """Cells are (position -> set of sequence ids); a cell with no sequence is free."""

    def __init__(self) -> None:
        self.cells: list[tuple[int, set[int]]] = []

    def compute(self, seq: int, start: int, end: int) -> None:
        self.cells += [(pos, {seq}) for pos in range(start, end)]

    def share(self, source: int, target: int, length: int) -> None:
        for pos, seqs in self.cells:
            if source in seqs and pos < length:
                seqs.add(target)

    def remove(self, seq: int, start: int, end: int) -> None:
        for pos, seqs in self.cells:
            if pos >= start and (end < 0 or pos < end):
                seqs.discard(seq)
        self.cells = [(pos, seqs) for pos, seqs in self.cells if seqs]

    def apply(self, change: Change) -> None:
        for op in change.ops:
            if isinstance(op, Remove):
                self.remove(op.seq, op.start, op.end)
            elif isinstance(op, Share):
                self.share(op.source, op.target, op.length)

    def positions(self, seq: int) -> list[int]:
        return sorted(pos for pos, seqs in self.cells if seq in seqs)


def run_sequence(
    cache: PrefixCache, kv: SimulatedKv, seq: int, tokens: list[int], now: float
) -> int:
    """What the scheduler does: share the cached prefix, compute the rest, insert the result."""
    match = cache.match("tenant", tokens, now)
    reused = min(match.length, len(tokens) - 1)
    if reused:
        kv.share(match.seq, seq, reused)
    kv.compute(seq, reused, len(tokens))
    kv.apply(cache.insert("tenant", tokens, seq, now))
    return reused


def test_a_second_turn_reuses_the_first_turns_cells() -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    assert run_sequence(cache, kv, 0, [1, 2, 3, 4], now=0) == 0
    assert run_sequence(cache, kv, 1, [1, 2, 3, 4, 5, 6], now=1) == 4
    assert cache.cells == 6 and len(kv.cells) == 6
    assert cache.entries == 1  # the first entry is a prefix of the second: released


def test_a_fully_cached_prompt_still_computes_its_last_token() -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    run_sequence(cache, kv, 0, [1, 2, 3], now=0)
    assert run_sequence(cache, kv, 1, [1, 2, 3], now=1) == 2


def test_branches_share_their_common_prefix_physically() -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    run_sequence(cache, kv, 0, [1, 2, 3, 4], now=0)
    run_sequence(cache, kv, 1, [1, 2, 7, 8, 9], now=1)
    assert cache.cells == 7 and len(kv.cells) == 7
    assert kv.positions(0) == [0, 1, 2, 3] and kv.positions(1) == [0, 1, 2, 3, 4]


def test_tenants_never_match_each_others_prefixes() -> None:
    cache = PrefixCache()
    cache.insert("a", [1, 2, 3], 0, now=0)
    assert cache.match("b", [1, 2, 3], now=1).length == 0
    assert cache.match("a", [1, 2, 3], now=1).length == 3


def test_eviction_takes_the_least_recently_used_leaf_and_keeps_shared_cells() -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    run_sequence(cache, kv, 0, [1, 2, 3, 4], now=0)
    run_sequence(cache, kv, 1, [1, 2, 7, 8], now=5)
    evicted = cache.evict_one(now=10)
    assert evicted is not None and evicted.seq == 0 and evicted.tokens == (1, 2, 3, 4)
    kv.apply(evicted.change)
    assert evicted.change.freed == [0]
    assert kv.positions(1) == [0, 1, 2, 3] and len(kv.cells) == cache.cells == 4


def test_locked_leaves_are_not_evicted() -> None:
    cache = PrefixCache()
    cache.insert("t", [1, 2, 3], 0, now=0)
    match = cache.match("t", [1, 2, 3], now=1)
    assert match.node is not None
    cache.lock(match.node)
    assert cache.evict_one(now=50) is None
    cache.unlock(match.node)
    evicted = cache.evict_one(now=50)
    assert evicted is not None and evicted.seq == 0


def test_pinned_leaves_go_after_every_unpinned_one() -> None:
    cache = PrefixCache()
    cache.insert("t", [1, 2, 3], 0, now=0)
    cache.insert("t", [4, 5, 6], 1, now=10)
    assert cache.pin("t", [1, 2], until=100) == 2
    first, second = cache.evict_one(now=50), cache.evict_one(now=50)
    assert first is not None and first.seq == 1  # more recently used, but not pinned
    assert second is not None and second.seq == 0  # a pin never refuses a request room


def test_an_eviction_says_whether_its_prefix_was_still_pinned() -> None:
    cache = PrefixCache()
    cache.insert("t", [1, 2, 3], 0, now=0)
    cache.insert("t", [4, 5, 6], 1, now=10)
    cache.pin("t", [4, 5, 6], until=100)
    evicted = [cache.evict_one(now=50), cache.evict_one(now=50)]
    assert [(e.seq, e.pinned) for e in evicted if e is not None] == [(0, False), (1, True)]


def test_pinned_leaves_do_not_expire_while_pinned() -> None:
    cache = PrefixCache()
    cache.insert("t", [1, 2], 0, now=0)
    cache.pin("t", [1, 2], until=100)
    assert list(cache.expired(now=70, idle_seconds=60)) == []
    assert [e.seq for e in cache.expired(now=101, idle_seconds=60)] == [0]


def test_idle_entries_expire() -> None:
    cache = PrefixCache()
    cache.insert("t", [1, 2], 0, now=0)
    cache.insert("t", [3, 4], 1, now=50)
    assert [e.seq for e in cache.expired(now=70, idle_seconds=60)] == [0]
    assert cache.entries == 1 and cache.cells == 2


prompts = st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=8), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(prompts=prompts, evictions=st.lists(st.booleans(), min_size=12, max_size=12))
def test_every_entry_holds_exactly_its_path_and_cells_are_counted_once(
    prompts: list[list[int]], evictions: list[bool]
) -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    for seq, (tokens, evict) in enumerate(zip(prompts, evictions, strict=False)):
        now = float(seq)
        run_sequence(cache, kv, seq, tokens, now)
        if evict and (evicted := cache.evict_one(now)) is not None:
            kv.apply(evicted.change)
        assert len(kv.cells) == cache.cells
        for leaf_seq, (_tenant, leaf) in cache._leaves.items():
            assert kv.positions(leaf_seq) == list(range(leaf.end))
        live = set(itertools.chain.from_iterable(seqs for _pos, seqs in kv.cells))
        assert live == set(cache._leaves)


def test_a_partial_match_locks_only_the_shared_cells() -> None:
    cache, kv = PrefixCache(), SimulatedKv()
    run_sequence(cache, kv, 0, [1, 2, 3, 4, 5, 6], now=0)
    match = cache.match("tenant", [1, 2, 9], now=1)
    assert match.length == 2 and match.node is not None
    cache.lock(match.node)
    evicted = cache.evict_one(now=2)
    assert evicted is not None and evicted.seq == 0 and evicted.dropped == 4
    kv.apply(evicted.change)
    assert kv.positions(0) == [0, 1]  # the locked, shared part stays in the cells
    assert cache.cells == 2
