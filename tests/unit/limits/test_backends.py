"""The limiter port, run against both backends: in-process, and the real Redis at 6379."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from parley.domain.buckets import Bucket, Charge
from parley.domain.ports import LimiterBackend
from parley.limits.memory import MemoryLimiter
from parley.limits.redis import RedisLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[LimiterBackend]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    limiter = RedisLimiter(REDIS_URL, prefix=f"parley-test:{uuid.uuid4().hex}:")
    yield limiter
    await limiter.close()


async def test_a_new_bucket_admits_and_takes_the_cost(backend: LimiterBackend) -> None:
    result = await backend.admit([Charge("itpm", 1000, 300)], now=100.0)
    assert (result.admitted, result.retry_after) == (True, 0)
    assert result.buckets == (Bucket(700.0, 100.0),)
    assert await backend.peek([Charge("itpm", 1000, 0)], now=100.0) == [Bucket(700.0, 100.0)]


async def test_a_refusal_takes_nothing_from_any_bucket(backend: LimiterBackend) -> None:
    await backend.admit([Charge("rpm", 60, 1), Charge("itpm", 1000, 900)], now=0.0)
    refused = await backend.admit([Charge("rpm", 60, 1), Charge("itpm", 1000, 300)], now=0.0)
    assert (refused.admitted, refused.retry_after) == (False, 12)
    peeked = await backend.peek([Charge("rpm", 60, 0), Charge("itpm", 1000, 0)], now=0.0)
    assert peeked == [Bucket(59.0, 0.0), Bucket(100.0, 0.0)]


async def test_refill_after_retry_after_admits(backend: LimiterBackend) -> None:
    await backend.admit([Charge("itpm", 1000, 900)], now=0.0)
    assert not (await backend.admit([Charge("itpm", 1000, 300)], now=11.0)).admitted
    assert (await backend.admit([Charge("itpm", 1000, 300)], now=12.0)).admitted


async def test_settling_returns_and_charges_tokens(backend: LimiterBackend) -> None:
    await backend.admit([Charge("otpm", 1000, 500)], now=0.0)
    assert await backend.settle([Charge("otpm", 1000, -200)], now=0.0) == [Bucket(700.0, 0.0)]
    assert await backend.settle([Charge("otpm", 1000, 900)], now=0.0) == [Bucket(-200.0, 0.0)]
