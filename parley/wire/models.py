"""`GET /v1/models`: ModelInfo and its page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class ModelInfo(BaseModel):
    id: str
    type: Literal["model"] = "model"
    display_name: str
    created_at: datetime
    max_input_tokens: int
    max_tokens: int
    capabilities: dict[str, Any]
    lifecycle: Literal["active", "deprecated", "retired"]
    deprecated_at: datetime | None = None
    retires_at: datetime | None = None
    line: str | None = None


class ModelPage(BaseModel):
    data: list[ModelInfo]
    has_more: bool
    first_id: str | None
    last_id: str | None
