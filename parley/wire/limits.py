"""`GET /v1/organizations/rate_limits`, shaped like the hosted Rate Limits API, plus each
limiter's live `remaining` (a Parley field; clients that do not know it ignore it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class LimitValue(BaseModel):
    type: Literal["requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"]
    value: int
    remaining: int


class RateLimitGroup(BaseModel):
    id: str
    type: Literal["rate_limit"] = "rate_limit"
    group_type: Literal["model_group"] = "model_group"
    models: list[str]
    limits: list[LimitValue]
    tier: str
    workspace_id: str | None = None


class RateLimitList(BaseModel):
    data: list[RateLimitGroup]
