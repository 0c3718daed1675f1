"""`GET /parley/cache`: live prompt-cache entries, for operators (not a hosted endpoint)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CacheEntryInfo(BaseModel):
    workspace_id: str
    model: str
    prefix_tokens: int
    ttl: str
    expires_at: datetime
    ttl_left_seconds: float
    hits: int
    created_at: datetime


class CacheEntryList(BaseModel):
    data: list[CacheEntryInfo]
