"""The cache registry and fingerprints ports, run against both backends: in-process, and the
real Redis at 6379. TTLs count from the `now` given (the request's start), a read refreshes its
entry, and an entry or a fingerprint belongs to one workspace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from parley.cachereg.memory import MemoryCacheRegistry, MemoryFingerprints
from parley.cachereg.redis import RedisCacheRegistry, RedisFingerprints
from parley.domain.caching import EntryWrite
from parley.domain.diagnostics import Fingerprint
from parley.domain.ports import CacheEntry, CacheRegistry, CacheScope, Fingerprints

REDIS_URL = "redis://127.0.0.1:6379/0"
SCOPE = CacheScope("org", "wrk", "model")
NEIGHBOUR = CacheScope("org", "wrk-other", "model")
T0 = 1_800_000_000.25  # a wall-clock time with a fraction: stored without rounding


@pytest.fixture(params=["memory", "redis"])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[CacheRegistry]:
    if request.param == "memory":
        yield MemoryCacheRegistry()
        return
    backend = RedisCacheRegistry(REDIS_URL, prefix=f"parley-test:{uuid.uuid4().hex}:")
    yield backend
    await backend.close()


@pytest.fixture(params=["memory", "redis"])
async def fingerprints(request: pytest.FixtureRequest) -> AsyncIterator[Fingerprints]:
    if request.param == "memory":
        yield MemoryFingerprints()
        return
    backend = RedisFingerprints(REDIS_URL, prefix=f"parley-test:{uuid.uuid4().hex}:")
    yield backend
    await backend.close()


async def test_an_entry_lives_for_its_ttl(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    assert await registry.live(SCOPE, ["k", "other"], now=T0 + 299.0) == {"k"}
    assert await registry.live(SCOPE, ["k"], now=T0 + 300.0) == set()


async def test_a_one_hour_entry_lives_for_an_hour(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "1h")], None, now=T0)
    assert await registry.live(SCOPE, ["k"], now=T0 + 3599.5) == {"k"}
    assert await registry.live(SCOPE, ["k"], now=T0 + 3600.0) == set()


async def test_a_hit_refreshes_the_ttl_and_counts(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    await registry.record(SCOPE, [], "k", now=T0 + 200.0)
    assert await registry.live(SCOPE, ["k"], now=T0 + 450.0) == {"k"}
    assert await registry.entries("org", now=T0 + 450.0) == [
        CacheEntry("org", "wrk", "model", 600, "5m", T0 + 500.0, 1, T0)
    ]


async def test_writing_a_longer_ttl_over_a_live_entry_extends_it(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    await registry.record(SCOPE, [EntryWrite("k", 600, "1h")], None, now=T0 + 10.0)
    (entry,) = await registry.entries("org", now=T0 + 20.0)
    assert (entry.ttl, entry.expires_at, entry.created_at) == ("1h", T0 + 3610.0, T0)


async def test_writing_a_shorter_ttl_keeps_the_longer_one(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "1h")], None, now=T0)
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0 + 10.0)
    (entry,) = await registry.entries("org", now=T0 + 20.0)
    assert (entry.ttl, entry.expires_at) == ("1h", T0 + 3600.0)


async def test_writing_over_an_expired_entry_starts_a_new_one(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    await registry.record(SCOPE, [], "k", now=T0 + 100.0)
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0 + 500.0)
    assert await registry.entries("org", now=T0 + 501.0) == [
        CacheEntry("org", "wrk", "model", 600, "5m", T0 + 800.0, 0, T0 + 500.0)
    ]


async def test_a_read_and_writes_in_one_commit(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("a", 1100, "5m")], None, now=T0)
    writes = [EntryWrite("a", 1100, "5m"), EntryWrite("b", 2000, "5m")]
    await registry.record(SCOPE, writes, "a", now=T0 + 60.0)
    listed = {e.tokens: (e.hits, e.expires_at) for e in await registry.entries("org", T0 + 61.0)}
    assert listed == {1100: (1, T0 + 360.0), 2000: (0, T0 + 360.0)}


async def test_another_workspace_never_sees_an_entry(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    assert await registry.live(NEIGHBOUR, ["k"], now=T0 + 1.0) == set()
    await registry.record(NEIGHBOUR, [], "k", now=T0 + 2.0)
    (entry,) = await registry.entries("org", now=T0 + 3.0)
    assert (entry.workspace_id, entry.hits) == ("wrk", 0)


async def test_entries_lists_only_the_organizations_live_ones(registry: CacheRegistry) -> None:
    await registry.record(SCOPE, [EntryWrite("short", 600, "5m")], None, now=T0)
    await registry.record(SCOPE, [EntryWrite("long", 700, "1h")], None, now=T0)
    elsewhere = CacheScope("org-2", "wrk-2", "model")
    await registry.record(elsewhere, [EntryWrite("k", 800, "5m")], None, now=T0)
    assert [e.tokens for e in await registry.entries("org", now=T0 + 400.0)] == [700]
    assert [e.tokens for e in await registry.entries("org-2", now=T0 + 1.0)] == [800]


async def test_memory_beyond_the_bound_the_entries_closest_to_expiry_go_first() -> None:
    registry = MemoryCacheRegistry(max_entries=2)
    await registry.record(SCOPE, [EntryWrite("a", 600, "5m")], None, now=0.0)
    await registry.record(SCOPE, [EntryWrite("b", 600, "1h")], None, now=1.0)
    await registry.record(SCOPE, [EntryWrite("c", 600, "5m")], None, now=2.0)
    assert await registry.live(SCOPE, ["a", "b", "c"], now=3.0) == {"b", "c"}


async def test_redis_collects_entries_once_they_are_long_expired() -> None:
    prefix = f"parley-test:{uuid.uuid4().hex}:"
    registry = RedisCacheRegistry(REDIS_URL, prefix=prefix)
    await registry.record(SCOPE, [EntryWrite("k", 600, "5m")], None, now=T0)
    await registry.close()
    redis = Redis.from_url(REDIS_URL)
    ttl = await redis.ttl(f"{prefix}e:wrk:k")
    await redis.aclose()
    assert ttl == 300 + 60


PRINT = Fingerprint("model", "t", "s", ("m1", "m2"), 10, 700, (720, 735), 740)


async def test_a_fingerprint_is_recalled_as_it_was_remembered(fingerprints: Fingerprints) -> None:
    await fingerprints.remember("wrk", "msg_1", PRINT)
    assert await fingerprints.recall("wrk", "msg_1") == PRINT
    assert await fingerprints.recall("wrk", "msg_2") is None


async def test_another_workspace_recalls_no_fingerprint(fingerprints: Fingerprints) -> None:
    await fingerprints.remember("wrk", "msg_1", PRINT)
    assert await fingerprints.recall("wrk-other", "msg_1") is None


async def test_memory_forgets_the_oldest_fingerprints_beyond_its_capacity() -> None:
    fingerprints = MemoryFingerprints(capacity=1)
    await fingerprints.remember("wrk", "msg_1", PRINT)
    await fingerprints.remember("wrk", "msg_2", PRINT)
    assert await fingerprints.recall("wrk", "msg_1") is None
