"""Where and how a request is served and billed. The price, the limits that apply, the ledger
row and (with regions) engine placement all read this one context; no step re-derives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Surface = Literal["claude_api", "vertex", "bedrock"]
ServiceTier = Literal["standard", "batch"]


@dataclass(frozen=True, kw_only=True)
class BillingContext:
    """`region`: the first-party `inference_geo`, or the partner surface's region; "global"
    when the request names none."""

    surface: Surface = "claude_api"
    region: str = "global"
    service_tier: ServiceTier = "standard"
    geo: str | None = None

    @classmethod
    def first_party(cls, inference_geo: str | None) -> BillingContext:
        return cls(region=inference_geo or "global")
