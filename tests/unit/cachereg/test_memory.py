"""The in-process cache registry: TTLs from the request start, refresh on hit, a bound."""

from __future__ import annotations

from parley.cachereg.memory import MemoryCacheRegistry
from parley.domain.caching import EntryWrite
from parley.domain.ports import CacheScope

SCOPE = CacheScope("org", "wrk", "model")


async def test_an_entry_lives_for_its_ttl() -> None:
    registry = MemoryCacheRegistry()
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=0.0)
    assert await registry.live(["k", "other"], now=299.0) == {"k"}
    assert await registry.live(["k"], now=300.0) == set()


async def test_a_hit_refreshes_the_ttl_and_counts() -> None:
    registry = MemoryCacheRegistry()
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=0.0)
    await registry.record(SCOPE, [], "k", now=200.0)
    assert await registry.live(["k"], now=450.0) == {"k"}
    (entry,) = await registry.entries(now=450.0)
    assert (entry.hits, entry.expires_at, entry.tokens) == (1, 500.0, 600)


async def test_writing_a_longer_ttl_over_a_live_entry_extends_it() -> None:
    registry = MemoryCacheRegistry()
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=0.0)
    await registry.record(SCOPE, [EntryWrite("k", 600, "1h")], None, now=10.0)
    (entry,) = await registry.entries(now=20.0)
    assert (entry.ttl, entry.expires_at) == ("1h", 3610.0)


async def test_beyond_the_bound_the_entries_closest_to_expiry_go_first() -> None:
    registry = MemoryCacheRegistry(max_entries=2)
    await registry.record(SCOPE, [EntryWrite("a", 600, "5m")], None, now=0.0)
    await registry.record(SCOPE, [EntryWrite("b", 600, "1h")], None, now=1.0)
    await registry.record(SCOPE, [EntryWrite("c", 600, "5m")], None, now=2.0)
    assert await registry.live(["a", "b", "c"], now=3.0) == {"b", "c"}
