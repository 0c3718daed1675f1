"""Usage and cost reports of the caller's organization (admin keys only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from parley.domain.ports import Ledger, Principal
from parley.domain.reports import cost_report, rfc3339, usage_report, window
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
        entries = await self._ledger.read(principal.organization_id, win.starts[0], end)
        build = usage_report if kind == "usage" else cost_report
        return {
            "data": build(entries, win, group_by),
            "has_more": win.next_page is not None,
            "next_page": rfc3339(win.next_page) if win.next_page else None,
        }
