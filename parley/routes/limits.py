"""`GET /v1/organizations/rate_limits`: the organization's limits per model class and what is
left of them now (admin keys only)."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.domain.catalog import Catalog
from parley.domain.ratelimits import Limiter
from parley.routes.auth import authenticate
from parley.services.auth import AuthService, require_admin
from parley.services.limits import RateLimits
from parley.wire.limits import LimitValue, RateLimitGroup, RateLimitList

LIMIT_TYPES: dict[
    Limiter, Literal["requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"]
] = {
    "requests": "requests_per_minute",
    "input-tokens": "input_tokens_per_minute",
    "output-tokens": "output_tokens_per_minute",
}


def limits_router(auth: AuthService, limits: RateLimits, catalog: Catalog) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/organizations/rate_limits")
    async def list_rate_limits(request: Request) -> Response:
        principal = await authenticate(auth, request)
        require_admin(principal, "the rate limits API")
        tier = await limits.tier(principal.organization_id)
        models: dict[str, list[str]] = defaultdict(list)
        for entry in catalog.entries:
            models[entry.rate_class].append(entry.id)
        groups: list[RateLimitGroup] = []
        for rate_class, ids in models.items():
            by_owner: dict[tuple[str, str], list[LimitValue]] = defaultdict(list)
            for metered, left in await limits.headroom(principal, rate_class):
                limiter: Limiter = metered.limiter
                by_owner[(metered.owner.kind, metered.owner.id)].append(
                    LimitValue(
                        type=LIMIT_TYPES[limiter],
                        value=metered.charge.limit,
                        remaining=left,
                    )
                )
            for (kind, owner_id), values in by_owner.items():
                groups.append(
                    RateLimitGroup(
                        id=f"{kind}:{owner_id}:{rate_class}",
                        models=ids,
                        limits=values,
                        tier=tier.name,
                        workspace_id=owner_id if kind == "workspace" else None,
                    )
                )
        listing = RateLimitList(data=groups)
        return Response(listing.model_dump_json(), media_type="application/json")

    return router
