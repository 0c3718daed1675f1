"""Token-bucket arithmetic for per-minute limits: continuous refill, all-or-nothing admission
over several buckets, corrections after the fact, and the numbers the headers show.

Pure: every function takes the time. The in-process and Redis limiters apply exactly this
math (the Redis one in a Lua script that mirrors it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class Bucket:
    """A bucket's state: `level` tokens available as of `at` (may be negative: debt)."""

    level: float
    at: float


@dataclass(frozen=True)
class Charge:
    """`cost` tokens from the bucket named `key`, whose capacity is `limit` per minute."""

    key: str
    limit: int
    cost: float


def refilled(bucket: Bucket | None, limit: int, now: float) -> Bucket:
    """The bucket at `now`: a missing bucket is full; refill is limit/60 per second, up to
    `limit`. Time never runs backwards for a bucket (clock skew between replicas)."""
    if bucket is None:
        return Bucket(float(limit), now)
    elapsed = max(0.0, now - bucket.at)
    level = min(float(limit), bucket.level + elapsed * limit / SECONDS_PER_MINUTE)
    return Bucket(level, max(now, bucket.at))


def wait_for(bucket: Bucket, limit: int, cost: float) -> float:
    """Seconds until `cost` fits (0 if it does now). A full bucket admits any cost, going into
    debt, so a request larger than the whole limit is slow, not impossible."""
    if cost <= bucket.level or bucket.level >= limit:
        return 0.0
    return (min(cost, float(limit)) - bucket.level) * SECONDS_PER_MINUTE / limit


@dataclass(frozen=True)
class Admission:
    admitted: bool
    buckets: tuple[Bucket, ...]
    retry_after: int  # whole seconds; 0 when admitted


def admit(charges: Sequence[Charge], buckets: Sequence[Bucket | None], now: float) -> Admission:
    """Takes every charge or none: a request is admitted only if all of its buckets allow it.
    On refusal, `retry_after` is the whole number of seconds after which all of them will."""
    current = [refilled(b, c.limit, now) for c, b in zip(charges, buckets, strict=True)]
    waits = [wait_for(b, c.limit, c.cost) for c, b in zip(charges, current, strict=True)]
    longest = max(waits, default=0.0)
    if longest > 0:
        return Admission(False, tuple(current), max(1, math.ceil(longest)))
    taken = tuple(Bucket(b.level - c.cost, b.at) for c, b in zip(charges, current, strict=True))
    return Admission(True, taken, 0)


def settle(bucket: Bucket | None, limit: int, delta: float, now: float) -> Bucket:
    """Applies a correction after the fact: `delta` more tokens were used than charged
    (negative: fewer, returned to the bucket, never above its limit)."""
    current = refilled(bucket, limit, now)
    return Bucket(min(float(limit), current.level - delta), current.at)


def remaining(bucket: Bucket, limit: int) -> int:
    return max(0, min(limit, math.floor(bucket.level)))


def full_at(bucket: Bucket, limit: int) -> float:
    """When the bucket will be full again (the `-reset` header)."""
    missing = max(0.0, limit - bucket.level)
    return bucket.at + missing * SECONDS_PER_MINUTE / limit
