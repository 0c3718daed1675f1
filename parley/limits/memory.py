"""Token buckets in this process: the single-replica default."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from parley.domain.buckets import Admission, Bucket, Charge, admit, settle


class MemoryLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = asyncio.Lock()

    async def admit(self, charges: Sequence[Charge], now: float) -> Admission:
        async with self._lock:
            result = admit(charges, [self._buckets.get(c.key) for c in charges], now)
            if result.admitted:
                for charge, bucket in zip(charges, result.buckets, strict=True):
                    self._buckets[charge.key] = bucket
            return result

    async def settle(self, charges: Sequence[Charge], now: float) -> list[Bucket]:
        """`charges` here carry corrections (cost = tokens used beyond the estimate)."""
        async with self._lock:
            updated = []
            for charge in charges:
                bucket = settle(self._buckets.get(charge.key), charge.limit, charge.cost, now)
                self._buckets[charge.key] = bucket
                updated.append(bucket)
            return updated

    async def peek(self, charges: Sequence[Charge], now: float) -> list[Bucket | None]:
        return [self._buckets.get(charge.key) for charge in charges]

    async def close(self) -> None:
        """Nothing to release: it lives in this process's memory."""
