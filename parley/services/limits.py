"""Step 6 of the pipeline: admit against the spend cap and the per-minute token buckets, and
settle the buckets once the real output is known. Partner surfaces admit against their quotas
instead (services/quotas.py), with the same tickets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from parley.domain.billing import BillingContext
from parley.domain.buckets import Charge, refilled, remaining
from parley.domain.caching import CachePlan
from parley.domain.catalog import ModelEntry
from parley.domain.ports import Clock, Ledger, LimiterBackend, Principal, Tenancy
from parley.domain.ratelimits import (
    Costs,
    Metered,
    OtpmMode,
    Owner,
    charges,
    headers,
    input_cost,
)
from parley.domain.tiers import ClassLimits, Tier, tier_for_credit
from parley.errors import RateLimitError


@dataclass(frozen=True)
class Ticket:
    """What one admitted request holds: the charges admission took, those of them whose
    buckets the real output corrects, and the headers to answer with."""

    charges: tuple[Charge, ...]
    on_output: tuple[Charge, ...]
    headers: dict[str, str]
    output_charged: int


@dataclass(frozen=True)
class Demand:
    """What a request asks of the limits: its model (and class), its prompt's cache split,
    and where it is served."""

    rate_class: str
    uncached: int
    written: int
    read: int
    reads_count: bool
    max_tokens: int
    model: str = ""
    billing: BillingContext = field(default_factory=BillingContext)

    @classmethod
    def of(
        cls, entry: ModelEntry, plan: CachePlan, max_tokens: int, billing: BillingContext
    ) -> Demand:
        return cls(
            entry.rate_class,
            plan.uncached,
            plan.written,
            plan.read,
            entry.cache_reads_count_itpm,
            max_tokens,
            entry.id,
            billing,
        )

    @property
    def input_tokens(self) -> int:
        return input_cost(self.uncached, self.written, self.read, self.reads_count)


class Gate(ABC):
    """Admission against token buckets, and returning or settling what a ticket took: the
    same for first-party limits and partner quotas."""

    def __init__(self, backend: LimiterBackend, clock: Clock) -> None:
        self._backend = backend
        self._clock = clock

    @abstractmethod
    async def admit(self, principal: Principal, demand: Demand) -> Ticket:
        """A ticket for the request, or a RateLimitError (429)."""

    async def refund(self, ticket: Ticket) -> None:
        """Returns everything admission took, for a request the engine refused (529)."""
        corrections = [Charge(c.key, c.limit, -c.cost) for c in ticket.charges]
        if corrections:
            await self._backend.settle(corrections, self._clock.now())

    async def settle(self, ticket: Ticket, output_tokens: int) -> None:
        """Charges the output that was really generated beyond what admission took (or
        returns the unused part of a `max_tokens` reservation)."""
        delta = output_tokens - ticket.output_charged
        corrections = [Charge(c.key, c.limit, delta) for c in ticket.on_output]
        if corrections and delta:
            await self._backend.settle(corrections, self._clock.now())


def _next_month(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


class RateLimits(Gate):
    """An organization's limits follow its tier (from `tenancy`); its spend this month, for
    the tier's cap, comes from the `ledger`."""

    def __init__(
        self,
        backend: LimiterBackend,
        tiers: Sequence[Tier],
        default_tier: str,
        tenancy: Tenancy,
        ledger: Ledger,
        clock: Clock,
        *,
        otpm: OtpmMode = "realtime",
        workspace_limits: Mapping[str, ClassLimits] | None = None,
    ) -> None:
        super().__init__(backend, clock)
        self._tiers = {tier.name: tier for tier in tiers}
        self._default_tier = default_tier
        self._tenancy = tenancy
        self._ledger = ledger
        self._otpm = otpm
        self._workspace_limits = dict(workspace_limits or {})

    def tier_for_credit(self, credit: Decimal) -> Tier:
        return tier_for_credit(list(self._tiers.values()), credit)

    async def tier(self, organization_id: str) -> Tier:
        name = await self._tenancy.tier_of(organization_id)
        return self._tiers.get(name or self._default_tier) or self._tiers[self._default_tier]

    async def owners(self, principal: Principal, rate_class: str) -> list[Owner]:
        tier = await self.tier(principal.organization_id)
        owners = [Owner("org", principal.organization_id, tier.limits_for(rate_class))]
        workspace = self._workspace_limits.get(principal.workspace_id)
        if workspace is not None:
            owners.append(Owner("workspace", principal.workspace_id, workspace))
        return owners

    async def admit(self, principal: Principal, demand: Demand) -> Ticket:
        now = self._clock.now()
        await self._check_spend(principal.organization_id, now)
        if demand.billing.service_tier == "batch":
            return Ticket((), (), {}, 0)  # batches use no per-minute bucket: only the cap
        output = demand.max_tokens if self._otpm == "reserve" else min(1, demand.max_tokens)
        costs = Costs(requests=1, input_tokens=demand.input_tokens, output_tokens=output)
        metered = charges(await self.owners(principal, demand.rate_class), demand.rate_class, costs)
        result = await self._backend.admit([m.charge for m in metered], now)
        answer = headers(metered, result.buckets)
        if not result.admitted:
            answer["retry-after"] = str(result.retry_after)
            raise RateLimitError(
                "This request would exceed your organization's rate limit. "
                "Please reduce the prompt length or the maximum tokens requested, "
                "or try again later.",
                headers=answer,
            )
        on_output = tuple(m.charge for m in metered if m.limiter == "output-tokens")
        return Ticket(tuple(m.charge for m in metered), on_output, answer, output)

    async def check_batch_queue(self, organization_id: str, queued: int, adding: int) -> None:
        """A 429 for a batch that would put more requests in the organization's processing
        queue than its tier allows."""
        tier = await self.tier(organization_id)
        if tier.batch_queue is not None and queued + adding > tier.batch_queue:
            raise RateLimitError(
                f"This batch of {adding} requests would exceed your organization's limit of "
                f"{tier.batch_queue} batch requests in the processing queue "
                f"({queued} already queued). Please try again once some have finished.",
            )

    async def _check_spend(self, organization_id: str, now: float) -> None:
        tier = await self.tier(organization_id)
        if tier.monthly_cap is None:
            return
        if await self._ledger.month_spend(organization_id, now) >= tier.monthly_cap:
            until = _next_month(now).strftime("%Y-%m-%d at 00:00 UTC")
            raise RateLimitError(
                f"Your organization has reached the monthly spend limit of its {tier.name} "
                f"tier (${tier.monthly_cap}). You will regain access on {until}.",
                error_code="enforced_spend_limit_reached",
                headers={"x-should-retry": "false"},
            )

    async def headroom(self, principal: Principal, rate_class: str) -> list[tuple[Metered, int]]:
        """Each limited bucket of the caller's organization (and workspace) for a model class,
        with what is left of it now."""
        now = self._clock.now()
        metered = charges(await self.owners(principal, rate_class), rate_class, Costs(0, 0, 0))
        buckets = await self._backend.peek([m.charge for m in metered], now)
        return [
            (m, remaining(refilled(b, m.charge.limit, now), m.charge.limit))
            for m, b in zip(metered, buckets, strict=True)
        ]
