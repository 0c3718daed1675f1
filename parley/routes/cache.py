"""`GET /parley/cache`: an organization's live prompt-cache entries (admin keys only)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.routes.auth import authenticate
from parley.services.auth import AuthService, require_admin
from parley.services.caching import PromptCache
from parley.wire.cache import CacheEntryInfo, CacheEntryList


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def cache_router(auth: AuthService, prompt_cache: PromptCache) -> APIRouter:
    router = APIRouter()

    @router.get("/parley/cache")
    async def list_cache_entries(request: Request) -> Response:
        principal = await authenticate(auth, request)
        require_admin(principal, "listing cache entries")
        now, entries = await prompt_cache.entries(principal.organization_id)
        listed = CacheEntryList(
            data=[
                CacheEntryInfo(
                    workspace_id=entry.workspace_id,
                    model=entry.model,
                    prefix_tokens=entry.tokens,
                    ttl=entry.ttl,
                    expires_at=_time(entry.expires_at),
                    ttl_left_seconds=round(entry.expires_at - now, 1),
                    hits=entry.hits,
                    created_at=_time(entry.created_at),
                )
                for entry in entries
            ]
        )
        return Response(listed.model_dump_json(), media_type="application/json")

    return router
