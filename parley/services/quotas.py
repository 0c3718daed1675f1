"""Step 6 of the pipeline on a partner surface (Vertex, Bedrock): admit against the surface's
own quotas per region and model, never the first-party tiers, spend caps or buckets, and
answer with no `anthropic-ratelimit-*` headers."""

from __future__ import annotations

from collections.abc import Sequence

from parley.domain.ports import Clock, LimiterBackend, Principal
from parley.domain.quotas import QuotaRule, exhausted, quota_charges, reserved_output, rule_for
from parley.errors import RateLimitError
from parley.services.limits import Demand, Gate, Ticket


class Quotas(Gate):
    def __init__(self, backend: LimiterBackend, rules: Sequence[QuotaRule], clock: Clock) -> None:
        super().__init__(backend, clock)
        self._rules = list(rules)

    async def admit(self, principal: Principal, demand: Demand) -> Ticket:
        surface, region = demand.billing.surface, demand.billing.region
        rule = rule_for(self._rules, surface, region, demand.model)
        if rule is None:
            return Ticket((), (), {}, 0)
        output = reserved_output(surface, demand.max_tokens)
        charged = quota_charges(
            rule,
            principal.organization_id,
            region,
            demand.model,
            input_tokens=demand.input_tokens,
            output_tokens=output,
        )
        result = await self._backend.admit([c.charge for c in charged], self._clock.now())
        if not result.admitted:
            names = ", ".join(exhausted(charged, result.buckets))
            raise RateLimitError(
                f"Too many requests: the {surface} quota ({names}) for {demand.model} in "
                f"{region} is exhausted. Please wait before trying again.",
                headers={"retry-after": str(result.retry_after)},
            )
        on_output = tuple(c.charge for c in charged if c.settles_on_output)
        return Ticket(tuple(c.charge for c in charged), on_output, {}, output)
