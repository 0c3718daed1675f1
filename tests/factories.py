"""Builders of test data that several test modules share."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from parley.domain.metering import LedgerEntry

_BASE = LedgerEntry(
    request_id="req_test",
    message_id="msg_test",
    organization_id="org",
    workspace_id="wrk",
    api_key_id="key",
    model="m",
    surface="claude_api",
    region="global",
    service_tier="standard",
    uncached_input_tokens=0,
    cache_write_5m_tokens=0,
    cache_write_1h_tokens=0,
    cache_read_tokens=0,
    output_tokens=0,
    cost_picodollars=0,
    cost_uncached_picodollars=0,
    cost_write_5m_picodollars=0,
    cost_write_1h_picodollars=0,
    cost_read_picodollars=0,
    cost_output_picodollars=0,
    started_at=datetime(2026, 11, 20, tzinfo=UTC),
    completed_at=datetime(2026, 11, 20, tzinfo=UTC),
)


def ledger_entry(**changes: Any) -> LedgerEntry:
    """A ledger row with zero counts and costs, but for `changes`."""
    return replace(_BASE, **changes)
