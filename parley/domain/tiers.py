"""Spend tiers: monthly caps, the credit that reaches each tier, and per-model-class limits.

Two presets ship, both as the hosted API documented them: `current` (Start, Build, Scale,
Custom; since mid 2026) and `legacy` (Tier 1-4, reached by cumulative credit purchases).
Limits are per model class; `default` is the class of models the catalog does not classify,
and carries the hosted column of Opus / Sonnet / Haiku 4.5. `batch_queue` is how many Message
Batches requests an organization may have processing (the hosted "queue" column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ClassLimits:
    """Per-minute limits of one model class; None is unlimited."""

    rpm: int | None
    itpm: int | None
    otpm: int | None


@dataclass(frozen=True)
class Tier:
    name: str
    credit_threshold: Decimal  # cumulative credit purchases that reach this tier
    monthly_cap: Decimal | None  # None: no cap
    classes: Mapping[str, ClassLimits] = field(default_factory=dict)
    batch_queue: int | None = None  # batch requests it may have processing; None: unlimited

    def limits_for(self, rate_class: str) -> ClassLimits:
        return self.classes.get(rate_class) or self.classes.get("default") or UNLIMITED


UNLIMITED = ClassLimits(None, None, None)


def _tier(
    name: str, credit: str, cap: str | None, queue: int | None, **classes: ClassLimits
) -> Tier:
    return Tier(name, Decimal(credit), Decimal(cap) if cap else None, classes, queue)


PRESETS: dict[str, tuple[Tier, ...]] = {
    "current": (
        _tier(
            "start",
            "0",
            "500",
            200_000,
            default=ClassLimits(1_000, 2_000_000, 400_000),
            fable=ClassLimits(1_000, 500_000, 100_000),
        ),
        _tier(
            "build",
            "0",
            "1000",
            300_000,
            default=ClassLimits(5_000, 5_000_000, 1_000_000),
            fable=ClassLimits(2_000, 1_500_000, 300_000),
        ),
        _tier(
            "scale",
            "0",
            "200000",
            500_000,
            default=ClassLimits(10_000, 10_000_000, 2_000_000),
            fable=ClassLimits(4_000, 4_000_000, 800_000),
        ),
        _tier("custom", "0", None, None, default=UNLIMITED),
    ),
    "legacy": (
        _tier("tier-1", "5", "100", 100_000, default=ClassLimits(50, 30_000, 8_000)),
        _tier("tier-2", "40", "500", 200_000, default=ClassLimits(1_000, 450_000, 90_000)),
        _tier("tier-3", "200", "1000", 300_000, default=ClassLimits(2_000, 800_000, 160_000)),
        _tier("tier-4", "400", "5000", 500_000, default=ClassLimits(4_000, 2_000_000, 400_000)),
    ),
}


def tier_for_credit(tiers: Sequence[Tier], credit: Decimal) -> Tier:
    """The highest tier whose threshold the cumulative purchases reach (the lowest if none)."""
    reached = [tier for tier in tiers if tier.credit_threshold <= credit]
    return max(reached, key=lambda t: t.credit_threshold) if reached else tiers[0]
