"""One billed request as the ledger keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LedgerEntry:
    request_id: str
    message_id: str
    organization_id: str
    workspace_id: str | None
    api_key_id: str | None
    model: str
    surface: str  # claude_api | vertex | bedrock
    region: str  # the endpoint's region: a partner region or multi-region; "global" when none
    service_tier: str  # standard | batch | priority
    uncached_input_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_picodollars: int
    cost_uncached_picodollars: int
    cost_write_5m_picodollars: int
    cost_write_1h_picodollars: int
    cost_read_picodollars: int
    cost_output_picodollars: int
    started_at: datetime
    completed_at: datetime
    geo: str | None = None  # the geo it was held to: "global", "us", ...; None: not known
