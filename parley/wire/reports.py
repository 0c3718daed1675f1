"""Usage and cost reports as the hosted Admin API shapes them (described for the OpenAPI
document; Parley adds the `surface` and `region` dimensions)."""

from __future__ import annotations

from pydantic import BaseModel


class ReportCacheCreation(BaseModel):
    ephemeral_5m_input_tokens: int
    ephemeral_1h_input_tokens: int


class ServerToolUse(BaseModel):
    web_search_requests: int


class UsageResult(BaseModel):
    uncached_input_tokens: int
    cache_creation: ReportCacheCreation
    cache_read_input_tokens: int
    output_tokens: int
    server_tool_use: ServerToolUse
    api_key_id: str | None
    workspace_id: str | None
    model: str | None
    service_tier: str | None
    inference_geo: str | None
    surface: str | None
    region: str | None


class UsageBucket(BaseModel):
    starting_at: str
    ending_at: str
    results: list[UsageResult]


class UsageReport(BaseModel):
    data: list[UsageBucket]
    has_more: bool
    next_page: str | None


class CostResult(BaseModel):
    currency: str
    amount: str
    workspace_id: str | None
    description: str | None
    surface: str | None
    region: str | None
    cost_type: str | None = None
    model: str | None = None
    token_type: str | None = None
    service_tier: str | None = None
    context_window: str | None = None
    inference_geo: str | None = None


class CostBucket(BaseModel):
    starting_at: str
    ending_at: str
    results: list[CostResult]


class CostReport(BaseModel):
    data: list[CostBucket]
    has_more: bool
    next_page: str | None
