"""Bedrock's ListInferenceProfiles (`GET /inference-profiles`) and GetInferenceProfile
(`GET /inference-profiles/{id}`), also under `/bedrock/{region}`, signed like the runtime
calls. Only system-defined profiles exist here; application profiles list empty."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.domain.catalog import Catalog
from parley.domain.inference_profiles import InferenceProfile, profile, profiles
from parley.errors import InvalidRequestError
from parley.routes.body import read_body
from parley.routes.surfaces.aws import bedrock_error, received
from parley.routes.surfaces.common import surface_route
from parley.services.bedrock_auth import BedrockAuth
from parley.wire.bedrock import (
    InferenceProfileModel,
    InferenceProfileSummary,
    ListInferenceProfilesResponse,
)

MAX_RESULTS = 1000
GET_BODY_LIMIT = 1024 * 1024


def summary(found: InferenceProfile) -> InferenceProfileSummary:
    created = found.entry.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return InferenceProfileSummary(
        inferenceProfileName=found.name,
        description=f"Routes requests to {found.entry.display_name} in {found.geo} regions.",
        createdAt=created,
        updatedAt=created,
        inferenceProfileArn=found.arn,
        models=[InferenceProfileModel(modelArn=found.model_arn)],
        inferenceProfileId=found.id,
    )


def _page_bounds(request: Request) -> tuple[int, int]:
    """(start, size) from `nextToken` (an offset it gave out) and `maxResults`."""
    token = request.query_params.get("nextToken", "0")
    size = request.query_params.get("maxResults", str(MAX_RESULTS))
    if not token.isdigit():
        raise InvalidRequestError(f"Invalid pagination token: {token}")
    if not size.isdigit() or not 1 <= int(size) <= MAX_RESULTS:
        raise InvalidRequestError(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_RESULTS}"
        )
    return int(token), int(size)


def profiles_router(auth: BedrockAuth, catalog: Catalog) -> APIRouter:
    router = APIRouter(route_class=surface_route(bedrock_error))

    async def region_of(request: Request, region: str | None) -> str:
        body = await read_body(request, GET_BODY_LIMIT)
        return (await auth.authenticate(received(request, body), region)).region

    async def listing(request: Request, region: str | None) -> Response:
        served = await region_of(request, region)
        start, size = _page_bounds(request)
        kind = request.query_params.get("type", "SYSTEM_DEFINED")
        found = profiles(catalog, served) if kind == "SYSTEM_DEFINED" else []
        page = found[start : start + size]
        more = start + size < len(found)
        body = ListInferenceProfilesResponse(
            inferenceProfileSummaries=[summary(p) for p in page],
            nextToken=str(start + size) if more else None,
        )
        return Response(body.model_dump_json(exclude_none=True), media_type="application/json")

    async def one(request: Request, identifier: str, region: str | None) -> Response:
        served = await region_of(request, region)
        body = summary(profile(catalog, identifier, served))
        return Response(body.model_dump_json(), media_type="application/json")

    @router.get("/inference-profiles")
    async def list_profiles(request: Request) -> Response:
        return await listing(request, None)

    @router.get("/bedrock/{region}/inference-profiles")
    async def list_profiles_in(request: Request, region: str) -> Response:
        return await listing(request, region)

    @router.get("/inference-profiles/{identifier:path}")
    async def get_profile(request: Request, identifier: str) -> Response:
        return await one(request, identifier, None)

    @router.get("/bedrock/{region}/inference-profiles/{identifier:path}")
    async def get_profile_in(request: Request, region: str, identifier: str) -> Response:
        return await one(request, identifier, region)

    return router
