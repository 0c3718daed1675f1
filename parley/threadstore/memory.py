"""Thread replies in this process's memory, bounded: the oldest go first when it is full."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from parley.domain.threads import ClaimRefusal, ThreadRecord


@dataclass
class _Held:
    record: ThreadRecord
    state: ClaimRefusal | None = None  # "in_flight" or "continued" once claimed


class MemoryThreadStore:
    def __init__(self, max_replies: int) -> None:
        self._max = max_replies
        self._held: OrderedDict[str, _Held] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    async def put(self, key: str, record: ThreadRecord, now: float) -> None:
        """Expired replies leave first (they are in the order they were stored), then the
        oldest while the store is full."""
        while self._held and next(iter(self._held.values())).record.expired(now):
            self._held.popitem(last=False)
        while len(self._held) >= self._max:
            self._held.popitem(last=False)
        self._held[key] = _Held(record)

    async def claim(self, key: str) -> ThreadRecord | ClaimRefusal:
        held = self._held.get(key)
        if held is None:
            return "not_found"
        if held.state is not None:
            return held.state
        held.state = "in_flight"
        return held.record

    async def release(self, key: str, *, continued: bool) -> None:
        held = self._held.get(key)
        if held is not None:
            held.state = "continued" if continued else None

    async def close(self) -> None:
        """Nothing to release: it lives in this process's memory."""
