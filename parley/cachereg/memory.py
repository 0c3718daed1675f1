"""The in-process cache registry and fingerprint store: the single-process default."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from parley.domain.caching import TTL_SECONDS, EntryWrite
from parley.domain.diagnostics import Fingerprint
from parley.domain.ports import CacheEntry, CacheScope


class MemoryCacheRegistry:
    """A TTL map keyed by workspace and prefix hash. Expired entries are dropped lazily; beyond
    `max_entries` the entries closest to expiry go first, so memory stays bounded under any
    load."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[tuple[str, str], CacheEntry] = {}
        self._max_entries = max_entries
        self._lock = asyncio.Lock()
        self._pruned_at = float("-inf")

    async def live(self, scope: CacheScope, keys: Sequence[str], now: float) -> set[str]:
        return {
            key
            for key in keys
            if (entry := self._entries.get((scope.workspace_id, key))) is not None
            and entry.expires_at > now
        }

    async def record(
        self, scope: CacheScope, writes: Sequence[EntryWrite], hit: str | None, now: float
    ) -> None:
        async with self._lock:
            if hit is not None:
                self._refresh((scope.workspace_id, hit), now)
            for write in writes:
                self._write(scope, write, now)
            self._prune(now)

    def _refresh(self, key: tuple[str, str], now: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            refreshed = now + TTL_SECONDS[entry.ttl]
            self._entries[key] = replace(
                entry, expires_at=max(entry.expires_at, refreshed), hits=entry.hits + 1
            )

    def _write(self, scope: CacheScope, write: EntryWrite, now: float) -> None:
        expires_at = now + TTL_SECONDS[write.ttl]
        key = (scope.workspace_id, write.key)
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > now:
            longer = write.ttl if TTL_SECONDS[write.ttl] > TTL_SECONDS[entry.ttl] else None
            entry = replace(
                entry, expires_at=max(entry.expires_at, expires_at), ttl=longer or entry.ttl
            )
        else:
            entry = CacheEntry(
                organization_id=scope.organization_id,
                workspace_id=scope.workspace_id,
                model=scope.model,
                tokens=write.tokens,
                ttl=write.ttl,
                expires_at=expires_at,
                hits=0,
                created_at=now,
            )
        self._entries[key] = entry

    def _prune(self, now: float) -> None:
        """A full scan, so at most once a second unless the map is over its bound."""
        if now - self._pruned_at < 1.0 and len(self._entries) <= self._max_entries:
            return
        self._pruned_at = now
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            del self._entries[key]
        overflow = len(self._entries) - self._max_entries
        if overflow > 0:
            soonest = sorted(self._entries, key=lambda key: self._entries[key].expires_at)
            for key in soonest[:overflow]:
                del self._entries[key]

    async def entries(self, organization_id: str, now: float) -> list[CacheEntry]:
        return [
            entry
            for entry in self._entries.values()
            if entry.organization_id == organization_id and entry.expires_at > now
        ]

    async def close(self) -> None:
        """Nothing to release: it lives in this process's memory."""


class MemoryFingerprints:
    """The most recent `capacity` messages' fingerprints; older ones are forgotten."""

    def __init__(self, capacity: int = 65_536) -> None:
        self._prints: OrderedDict[tuple[str, str], Fingerprint] = OrderedDict()
        self._capacity = capacity

    async def remember(self, workspace_id: str, message_id: str, print_: Fingerprint) -> None:
        self._prints[(workspace_id, message_id)] = print_
        while len(self._prints) > self._capacity:
            self._prints.popitem(last=False)

    async def recall(self, workspace_id: str, message_id: str) -> Fingerprint | None:
        return self._prints.get((workspace_id, message_id))

    async def close(self) -> None:
        """Nothing to release: it lives in this process's memory."""
