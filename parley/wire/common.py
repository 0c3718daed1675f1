"""Shared pieces of request models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Request objects: unknown fields are ignored inside blocks, as real clients add new ones."""

    model_config = ConfigDict(extra="ignore")


class StrictWireModel(BaseModel):
    """Top-level request bodies: unknown fields are a 400, as on the hosted API."""

    model_config = ConfigDict(extra="forbid")


class CacheControlEphemeral(WireModel):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None
