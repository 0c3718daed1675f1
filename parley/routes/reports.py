"""`GET /v1/organizations/usage_report/messages` and `GET /v1/organizations/cost_report`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from parley.errors import InvalidRequestError
from parley.routes.auth import authenticate
from parley.services.auth import AuthService
from parley.services.reports import Reports


def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(f"{name}: must be an RFC 3339 date-time") from None


def _list(request: Request, name: str) -> list[str]:
    """Array parameters arrive bracket style (`group_by[]=model`) or plain."""
    return request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)


def reports_router(auth: AuthService, reports: Reports) -> APIRouter:
    router = APIRouter()

    async def report(request: Request, kind: str) -> Response:
        principal = await authenticate(auth, request)
        starting_at = _time(request, "page") or _time(request, "starting_at")
        if starting_at is None:
            raise InvalidRequestError("starting_at: Field required")
        raw_limit = request.query_params.get("limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else None
        except ValueError:
            raise InvalidRequestError("limit: Input should be a valid integer") from None
        body = await reports.build(
            principal,
            kind,
            starting_at=starting_at,
            ending_at=_time(request, "ending_at"),
            bucket_width=request.query_params.get("bucket_width", "1d"),
            limit=limit,
            group_by=_list(request, "group_by"),
        )
        return JSONResponse(body)

    @router.get("/v1/organizations/usage_report/messages")
    async def usage_report(request: Request) -> Response:
        return await report(request, "usage")

    @router.get("/v1/organizations/cost_report")
    async def cost_report(request: Request) -> Response:
        return await report(request, "cost")

    return router
