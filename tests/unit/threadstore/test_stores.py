"""The thread store port, run against both adapters: this process's memory, and the real
Redis at 6379 (a key prefix of its own per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from parley.domain.ports import ThreadStore
from parley.domain.sealing import Sealer, new_key
from parley.domain.threads import ThreadRecord
from parley.threadstore.memory import MemoryThreadStore
from parley.threadstore.redis import RedisThreadStore

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = 1_800_000_000.0


def record(text: str = "The valve is open.", stored_at: float = NOW) -> ThreadRecord:
    return ThreadRecord(
        model="m",
        system="Be brief.",
        tools=None,
        messages=[
            {"role": "user", "content": "Which valve?"},
            {"role": "assistant", "content": [{"type": "text", "text": text}]},
        ],
        started_at=stored_at,
        stored_at=stored_at,
    )


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThreadStore]:
    if request.param == "memory":
        yield MemoryThreadStore(max_replies=100)
        return
    redis_store = RedisThreadStore(
        REDIS_URL, Sealer(new_key()), prefix=f"parley-test:{uuid.uuid4().hex}:"
    )
    yield redis_store
    await redis_store.close()


async def test_a_stored_reply_is_claimed_whole(store: ThreadStore) -> None:
    await store.put("ws:msg_1", record(), NOW)
    assert await store.claim("ws:msg_1") == record()


async def test_an_unknown_reply_is_not_found(store: ThreadStore) -> None:
    assert await store.claim("ws:msg_nope") == "not_found"


async def test_a_claimed_reply_is_in_flight_until_released(store: ThreadStore) -> None:
    await store.put("ws:msg_1", record(), NOW)
    await store.claim("ws:msg_1")
    assert await store.claim("ws:msg_1") == "in_flight"


async def test_a_continued_reply_cannot_be_claimed_again(store: ThreadStore) -> None:
    await store.put("ws:msg_1", record(), NOW)
    await store.claim("ws:msg_1")
    await store.release("ws:msg_1", continued=True)
    assert await store.claim("ws:msg_1") == "continued"


async def test_a_reply_whose_continue_failed_can_be_claimed_again(store: ThreadStore) -> None:
    await store.put("ws:msg_1", record(), NOW)
    await store.claim("ws:msg_1")
    await store.release("ws:msg_1", continued=False)
    assert await store.claim("ws:msg_1") == record()


async def test_a_full_memory_store_drops_the_oldest_reply() -> None:
    store = MemoryThreadStore(max_replies=2)
    for number in range(3):
        await store.put(f"ws:msg_{number}", record(), NOW)
    assert await store.claim("ws:msg_0") == "not_found"
    assert await store.claim("ws:msg_2") == record()
    assert len(store) == 2


async def test_expired_replies_leave_the_memory_store_first() -> None:
    store = MemoryThreadStore(max_replies=10)
    await store.put("ws:old", record(stored_at=NOW - 301), NOW - 301)
    await store.put("ws:new", record(), NOW)
    assert len(store) == 1


async def test_redis_holds_the_reply_sealed_and_only_until_it_would_expire() -> None:
    prefix = f"parley-test:{uuid.uuid4().hex}:"
    store = RedisThreadStore(REDIS_URL, Sealer(new_key()), prefix=prefix)
    await store.put("ws:msg_1", record("The secret valve is open."), NOW + 100)
    redis: Redis = Redis.from_url(REDIS_URL)
    raw = await redis.get(f"{prefix}ws:msg_1")
    ttl = await redis.ttl(f"{prefix}ws:msg_1")
    await redis.aclose()
    await store.close()
    assert raw is not None and b"secret valve" not in raw
    assert ttl == 200  # 5 minutes after it was stored, seen 100 s later


async def test_a_replica_with_the_same_key_continues_the_thread() -> None:
    key, prefix = new_key(), f"parley-test:{uuid.uuid4().hex}:"
    first = RedisThreadStore(REDIS_URL, Sealer(key), prefix=prefix)
    second = RedisThreadStore(REDIS_URL, Sealer(key), prefix=prefix)
    await first.put("ws:msg_1", record(), NOW)
    assert await second.claim("ws:msg_1") == record()
    await first.close()
    await second.close()
