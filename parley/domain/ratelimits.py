"""Which buckets a request charges, and the `anthropic-ratelimit-*` headers that describe them.

Buckets are per organization (and per workspace where the workspace has lower limits of its
own) and per model class, one for each limiter: requests, input tokens, output tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from parley.domain.buckets import Bucket, Charge, full_at, remaining
from parley.domain.tiers import ClassLimits

Limiter = Literal["requests", "input-tokens", "output-tokens"]
LIMITERS: tuple[Limiter, ...] = ("requests", "input-tokens", "output-tokens")
OtpmMode = Literal["realtime", "reserve"]


@dataclass(frozen=True)
class Owner:
    """Whose buckets: an organization, or one of its workspaces with limits of its own."""

    kind: Literal["org", "workspace"]
    id: str
    limits: ClassLimits


@dataclass(frozen=True)
class Costs:
    requests: int
    input_tokens: int
    output_tokens: int

    def of(self, limiter: Limiter) -> int:
        return {
            "requests": self.requests,
            "input-tokens": self.input_tokens,
            "output-tokens": self.output_tokens,
        }[limiter]


def _limit(limits: ClassLimits, limiter: Limiter) -> int | None:
    return {"requests": limits.rpm, "input-tokens": limits.itpm, "output-tokens": limits.otpm}[
        limiter
    ]


@dataclass(frozen=True)
class Metered:
    """One charged bucket: whose, which limiter, and the charge itself."""

    owner: Owner
    limiter: Limiter
    charge: Charge


def charges(owners: Sequence[Owner], rate_class: str, costs: Costs) -> list[Metered]:
    """Every limited bucket the request draws from (unlimited limiters have none)."""
    found: list[Metered] = []
    for owner in owners:
        for limiter in LIMITERS:
            limit = _limit(owner.limits, limiter)
            if limit is not None:
                key = f"{owner.kind}:{owner.id}:{rate_class}:{limiter}"
                found.append(Metered(owner, limiter, Charge(key, limit, costs.of(limiter))))
    return found


def input_cost(uncached: int, written: int, read: int, reads_count: bool) -> int:
    """ITPM counts uncached input and cache writes; cache reads only where the model says so."""
    return uncached + written + (read if reads_count else 0)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def headers(metered: Sequence[Metered], buckets: Sequence[Bucket]) -> dict[str, str]:
    """For each limiter, the bucket with the least left (a workspace's if it binds), and
    `tokens-*` as the more restrictive of input and output. Remaining values are exact (the
    hosted API rounds token counts to thousands; Parley does not)."""
    binding: dict[Limiter, tuple[int, int, float]] = {}
    for item, bucket in zip(metered, buckets, strict=True):
        left = remaining(bucket, item.charge.limit)
        current = binding.get(item.limiter)
        if current is None or left < current[1]:
            binding[item.limiter] = (item.charge.limit, left, full_at(bucket, item.charge.limit))
    out: dict[str, str] = {}
    for limiter, (limit, left, reset) in binding.items():
        out[f"anthropic-ratelimit-{limiter}-limit"] = str(limit)
        out[f"anthropic-ratelimit-{limiter}-remaining"] = str(left)
        out[f"anthropic-ratelimit-{limiter}-reset"] = _rfc3339(reset)
    tokens = [binding[k] for k in ("input-tokens", "output-tokens") if k in binding]
    if tokens:
        limit, left, reset = min(tokens, key=lambda t: t[1])
        out["anthropic-ratelimit-tokens-limit"] = str(limit)
        out["anthropic-ratelimit-tokens-remaining"] = str(left)
        out["anthropic-ratelimit-tokens-reset"] = _rfc3339(reset)
    return out
