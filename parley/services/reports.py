"""Usage and cost reports of the caller's organization (admin keys only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from parley.domain.ports import Ledger, Principal
from parley.domain.reports import (
    Totals,
    cost_dimensions,
    cost_report,
    rfc3339,
    usage_dimensions,
    usage_report,
    window,
)
from parley.errors import InvalidRequestError
from parley.services.auth import require_admin


class Reports:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def build(
        self,
        principal: Principal,
        kind: str,
        *,
        starting_at: datetime,
        ending_at: datetime | None,
        bucket_width: str,
        limit: int | None,
        group_by: Sequence[str],
    ) -> dict[str, Any]:
        require_admin(principal, "the usage and cost reports")
        if kind == "cost" and bucket_width != "1d":
            raise InvalidRequestError("bucket_width: the cost report has 1d buckets only")
        win = window(starting_at, ending_at, bucket_width, limit)
        end = win.starts[-1] + win.width
        usage = kind == "usage"
        dimensions = usage_dimensions(group_by) if usage else cost_dimensions(group_by)
        totals = await self._ledger.totals(
            principal.organization_id, win.starts[0], end, bucket_width, dimensions
        )
        build = usage_report if usage else cost_report
        return {
            "data": build(totals, win, group_by),
            "has_more": win.next_page is not None,
            "next_page": rfc3339(win.next_page) if win.next_page else None,
        }

    async def totals(
        self,
        principal: Principal,
        starting_at: datetime,
        ending_at: datetime,
        bucket_width: str,
        group_by: Sequence[str],
    ) -> list[Totals]:
        """The grouped sums behind both reports, for views that draw them (the console)."""
        require_admin(principal, "the usage and cost reports")
        dimensions = usage_dimensions(group_by)
        return await self._ledger.totals(
            principal.organization_id, starting_at, ending_at, bucket_width, dimensions
        )
