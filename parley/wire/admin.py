"""Admin API objects: workspaces and API keys as the hosted Admin API shapes them, and
Parley's credit purchases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from parley.wire.common import StrictWireModel

T = TypeVar("T")


class WorkspaceCreateParams(StrictWireModel):
    name: str = Field(min_length=1, max_length=40)


class Workspace(BaseModel):
    type: Literal["workspace"] = "workspace"
    id: str
    name: str
    display_color: str = "#6C5BB9"
    created_at: datetime
    archived_at: datetime | None = None


class ApiKeyUpdateParams(StrictWireModel):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    status: Literal["active", "inactive"] | None = None


class ApiKey(BaseModel):
    type: Literal["api_key"] = "api_key"
    id: str
    name: str
    status: str
    created_at: datetime
    created_by: None = None
    expires_at: None = None
    partial_key_hint: str
    workspace_id: str | None


class CreditPurchaseParams(StrictWireModel):
    """At most a billion dollars in cents, finite: the ledger's column is NUMERIC(18, 2)."""

    amount: Decimal = Field(
        gt=0, le=10**9, decimal_places=2, allow_inf_nan=False, description="USD"
    )


class CreditBalance(BaseModel):
    credit_purchased: Decimal
    tier: str


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    first_id: str | None
    last_id: str | None
