"""Partner-surface quotas: per surface, region and model, as a cloud account has them, instead
of the first-party tiers, spend caps and RPM/ITPM/OTPM buckets.

Each quota is a token bucket per organization, surface, region and model (`"*"` in a rule
means each region, or each model, with a bucket of its own), drawn from with the same
arithmetic (domain/buckets.py) and the same backends as first-party limits, under keys of its
own, so traffic on one surface never drains another's budget. Bedrock-style quotas reserve
`max_tokens` of output at admission and return the unused part at the end; Vertex-style ones
count output as it is generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from parley.domain.buckets import Bucket, Charge, wait_for

ANY = "*"
QuotaName = Literal["rpm", "input_tpm", "output_tpm", "tpm"]
RESERVES_OUTPUT = frozenset({"bedrock"})


@dataclass(frozen=True, kw_only=True)
class QuotaRule:
    """Per-minute limits of one surface, in a region (or each, "*") for a model (or each,
    "*"). `tpm` counts input and output together; an absent limit is unlimited."""

    surface: str
    region: str = ANY
    model: str = ANY
    rpm: int | None = None
    input_tpm: int | None = None
    output_tpm: int | None = None
    tpm: int | None = None

    def rank(self, surface: str, region: str, model: str) -> tuple[bool, bool] | None:
        """How specifically the rule matches (None: not at all): an exact model first, then
        an exact region."""
        if self.surface != surface or self.region not in (ANY, region):
            return None
        if self.model not in (ANY, model):
            return None
        return (self.model != ANY, self.region != ANY)


def rule_for(rules: Sequence[QuotaRule], surface: str, region: str, model: str) -> QuotaRule | None:
    """The most specific rule that matches; the later one among equals."""
    best: tuple[tuple[bool, bool], QuotaRule] | None = None
    for rule in rules:
        rank = rule.rank(surface, region, model)
        if rank is not None and (best is None or rank >= best[0]):
            best = (rank, rule)
    return None if best is None else best[1]


@dataclass(frozen=True)
class QuotaCharge:
    name: QuotaName
    charge: Charge

    @property
    def settles_on_output(self) -> bool:
        """Whether the real output corrects this bucket once the request ends."""
        return self.name in ("output_tpm", "tpm")


def reserved_output(surface: str, max_tokens: int) -> int:
    """Output tokens admission takes: all of `max_tokens` on Bedrock, one elsewhere (so an
    empty output bucket refuses), none for a request that generates nothing."""
    return max_tokens if surface in RESERVES_OUTPUT else min(1, max_tokens)


def quota_charges(
    rule: QuotaRule,
    owner: str,
    region: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
) -> list[QuotaCharge]:
    """The buckets of `owner` (an organization) the request draws from in `region` for
    `model`, each with its cost: one request, the input, the output admission takes, and both
    together for `tpm`."""
    costs: dict[QuotaName, tuple[int | None, int]] = {
        "rpm": (rule.rpm, 1),
        "input_tpm": (rule.input_tpm, input_tokens),
        "output_tpm": (rule.output_tpm, output_tokens),
        "tpm": (rule.tpm, input_tokens + output_tokens),
    }
    prefix = f"quota:{owner}:{rule.surface}:{region}:{model}"
    return [
        QuotaCharge(name, Charge(f"{prefix}:{name}", limit, cost))
        for name, (limit, cost) in costs.items()
        if limit is not None
    ]


def exhausted(charges: Sequence[QuotaCharge], buckets: Sequence[Bucket]) -> list[QuotaName]:
    """The quotas that refused a request, from the buckets as the refusal found them."""
    return [
        item.name
        for item, bucket in zip(charges, buckets, strict=True)
        if wait_for(bucket, item.charge.limit, item.charge.cost) > 0
    ]
