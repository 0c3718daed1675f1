"""The contract's prompt-caching rules: cache_control breakpoints -> a CachePlan -> usage.

Pure: the registry's answers and the time come in as arguments. What this module decides is
what gets billed; the engine's physical prefix cache only decides how fast it goes.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from parley.domain.prompt import Block, CacheTtl
from parley.errors import InvalidRequestError

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20  # a breakpoint looks at its own position and 19 earlier ones
TTL_SECONDS: dict[CacheTtl, float] = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Breakpoint:
    block: int
    ttl: CacheTtl


def breakpoints(blocks: Sequence[Block], automatic: CacheTtl | None) -> list[Breakpoint]:
    """The request's breakpoints in prefix order, with the top-level (automatic) one placed on
    the last cacheable block; 400s for the contract's invalid combinations."""
    found = [Breakpoint(i, b.ttl) for i, b in enumerate(blocks) if b.ttl is not None]
    if automatic is not None:
        last = next((i for i in reversed(range(len(blocks))) if blocks[i].cacheable), None)
        if last is not None:
            existing = blocks[last].ttl
            if existing is not None and existing != automatic:
                raise InvalidRequestError(
                    f"cache_control: the automatic breakpoint's ttl {automatic!r} differs from "
                    f"the ttl {existing!r} already on the last cacheable block"
                )
            if existing is None:
                if len(found) >= MAX_BREAKPOINTS:
                    raise InvalidRequestError(
                        "cache_control: the automatic breakpoint cannot be added: the request "
                        f"already has {MAX_BREAKPOINTS} cache_control blocks"
                    )
                found.append(Breakpoint(last, automatic))
    if len(found) > MAX_BREAKPOINTS:
        raise InvalidRequestError(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(found)}."
        )
    seen_5m = False
    for point in found:
        if point.ttl == "5m":
            seen_5m = True
        elif seen_5m:
            raise InvalidRequestError(
                "cache_control: a ttl='1h' cache_control block must not come after a "
                "ttl='5m' cache_control block"
            )
    return found


def prefix_keys(
    scope: str, tokens: Sequence[int], ends: Sequence[int], salt_at: int, salt: bytes
) -> list[str]:
    """One key per block end: a hash chained over the tokens, so key i names the exact prefix
    `tokens[:ends[i]]` in `scope` (workspace and model). `salt` is mixed in before block
    `salt_at` (the first message): settings such as tool_choice that are not tokens but
    invalidate the messages that follow them."""
    packed = array("i", tokens).tobytes()
    chain = hashlib.sha256(scope.encode())
    keys: list[str] = []
    done = 0
    for index, end in enumerate(ends):
        if index == salt_at:
            chain.update(salt)
        if end > done:
            chain.update(packed[done * 4 : end * 4])
            done = end
        keys.append(chain.hexdigest())
    return keys


@dataclass(frozen=True)
class EntryWrite:
    """A registry entry that the request creates or refreshes."""

    key: str
    tokens: int
    ttl: CacheTtl


@dataclass(frozen=True)
class CachePlan:
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0
    uncached: int = 0
    hit: str | None = None
    writes: tuple[EntryWrite, ...] = ()

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h

    def pins(self) -> tuple[tuple[int, float], ...]:
        """(prefix length, seconds) that the physical cache should keep warm."""
        return tuple((w.tokens, TTL_SECONDS[w.ttl]) for w in self.writes)


def lookup_candidates(points: Sequence[Breakpoint], keys: Sequence[str]) -> list[str]:
    """Every key a breakpoint may read: its own position and the lookback before it."""
    wanted: list[str] = []
    for point in points:
        for block in range(point.block, max(-1, point.block - LOOKBACK_BLOCKS), -1):
            if keys[block] not in wanted:
                wanted.append(keys[block])
    return wanted


def plan_cache(
    points: Sequence[Breakpoint],
    ends: Sequence[int | None],
    keys: Sequence[str],
    live: set[str],
    total: int,
    min_tokens: int,
) -> CachePlan:
    """Billing positions A (longest hit), B (last 1h breakpoint past A, else A), C (last
    breakpoint): read A, write 1h B-A, write 5m C-B, the rest is uncached input. Breakpoints
    whose prefix is shorter than `min_tokens` (or whose end is unknown) cache nothing."""
    usable = [
        (point, end)
        for point in points
        if (end := ends[point.block]) is not None and end >= min_tokens
    ]
    if not usable:
        return CachePlan(uncached=total)
    read, hit = 0, None
    for point, _end in usable:
        for block in range(point.block, max(-1, point.block - LOOKBACK_BLOCKS), -1):
            end = ends[block]
            if end is not None and end >= min_tokens and keys[block] in live:
                if end > read:
                    read, hit = end, keys[block]
                break
    last = usable[-1][1]
    long_end = max((end for point, end in usable if point.ttl == "1h" and end > read), default=read)
    writes = tuple(EntryWrite(keys[point.block], end, point.ttl) for point, end in usable)
    return CachePlan(
        read=read,
        write_1h=long_end - read,
        write_5m=last - long_end,
        uncached=total - last,
        hit=hit,
        writes=writes,
    )
