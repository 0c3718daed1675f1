"""Where and how a request is served and billed. The price, the limits that apply, the ledger
row and (with regions) engine placement all read this one context; no step re-derives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Surface = Literal["claude_api", "vertex", "bedrock"]
ServiceTier = Literal["standard", "batch"]


@dataclass(frozen=True, kw_only=True)
class BillingContext:
    """`region`: the endpoint the request was sent to: a partner surface's region (a named
    region, a multi-region such as Vertex's `us`, or "global"); "global" on the first-party
    API. `geo`: the geo the request is held to, as asked (a Bedrock inference profile's prefix,
    the first-party `inference_geo`), and once the pipeline has placed it, as resolved from the
    regions (`global`, a geo such as `us`, or None where no geo is known)."""

    surface: Surface = "claude_api"
    region: str = "global"
    service_tier: ServiceTier = "standard"
    geo: str | None = None

    @classmethod
    def first_party(cls, inference_geo: str | None) -> BillingContext:
        return cls(geo=inference_geo)
