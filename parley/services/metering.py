"""Step 8 of the pipeline: price a request's usage and append it to the ledger, durably,
before its response completes."""

from __future__ import annotations

from datetime import UTC, datetime

from parley.domain.billing import BillingContext
from parley.domain.metering import LedgerEntry
from parley.domain.ports import Clock, Ledger, Principal
from parley.domain.pricing import TOKEN_TYPES, PriceBook, TokenCounts
from parley.wire.messages import Usage


class Meter:
    def __init__(self, ledger: Ledger, prices: PriceBook, clock: Clock) -> None:
        self._ledger = ledger
        self._prices = prices
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def record(
        self,
        *,
        request_id: str,
        message_id: str,
        principal: Principal,
        model: str,
        usage: Usage,
        billing: BillingContext,
        started_at: datetime,
    ) -> None:
        creation = usage.cache_creation
        counts = TokenCounts(
            uncached=usage.input_tokens,
            write_5m=creation.ephemeral_5m_input_tokens,
            write_1h=creation.ephemeral_1h_input_tokens,
            read=usage.cache_read_input_tokens,
            output=usage.output_tokens,
        )
        cost = self._prices.cost(
            model,
            counts,
            surface=billing.surface,
            region=billing.region,
            geo=billing.geo,
            batch=billing.service_tier == "batch",
        )
        await self._ledger.record(
            LedgerEntry(
                request_id=request_id,
                message_id=message_id,
                organization_id=principal.organization_id,
                workspace_id=principal.workspace_id or None,
                api_key_id=principal.key_id,
                model=model,
                surface=billing.surface,
                region=billing.region,
                service_tier=billing.service_tier,
                uncached_input_tokens=counts.uncached,
                cache_write_5m_tokens=counts.write_5m,
                cache_write_1h_tokens=counts.write_1h,
                cache_read_tokens=counts.read,
                output_tokens=counts.output,
                cost_picodollars=cost.picodollars,
                cost_uncached_picodollars=cost.part_picodollars(TOKEN_TYPES[0]),
                cost_write_5m_picodollars=cost.part_picodollars(TOKEN_TYPES[1]),
                cost_write_1h_picodollars=cost.part_picodollars(TOKEN_TYPES[2]),
                cost_read_picodollars=cost.part_picodollars(TOKEN_TYPES[3]),
                cost_output_picodollars=cost.part_picodollars(TOKEN_TYPES[4]),
                started_at=started_at,
                completed_at=self.now(),
                geo=billing.geo,
            )
        )
