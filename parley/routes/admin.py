"""Admin API routes: workspaces, API keys, credit purchases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.domain.paging import Page as DomainPage
from parley.domain.paging import paginate
from parley.domain.tenancy import KeyInfo, WorkspaceInfo
from parley.routes.auth import authenticate
from parley.routes.body import parse, read_json
from parley.routes.models import query_limit
from parley.services.admin import Admin
from parley.services.auth import AuthService
from parley.wire.admin import (
    ApiKey,
    ApiKeyUpdateParams,
    CreditBalance,
    CreditPurchaseParams,
    Page,
    Workspace,
    WorkspaceCreateParams,
)

MAX_BODY = 1024 * 1024


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def workspace_object(info: WorkspaceInfo) -> Workspace:
    return Workspace(id=info.id, name=info.name, created_at=info.created_at)


def key_object(info: KeyInfo) -> ApiKey:
    return ApiKey(
        id=info.id,
        name=info.name,
        status=info.status,
        created_at=info.created_at,
        partial_key_hint=info.partial_key_hint,
        workspace_id=info.workspace_id,
    )


def _json(model: Workspace | ApiKey | CreditBalance | Page[Workspace] | Page[ApiKey]) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def paged(request: Request, items: Sequence[T]) -> DomainPage[T]:
    """One page of `items` (newest first, each with an `id`), by the request's paging query."""
    query = request.query_params
    return paginate(
        items,
        lambda item: item.id,
        limit=query_limit(query.get("limit")),
        after_id=query.get("after_id"),
        before_id=query.get("before_id"),
    )


def admin_router(auth: AuthService, admin: Admin) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/organizations/workspaces")
    async def create_workspace(request: Request) -> Response:
        principal = await authenticate(auth, request)
        params = parse(WorkspaceCreateParams, await read_json(request, MAX_BODY))
        return _json(workspace_object(await admin.create_workspace(principal, params.name)))

    @router.get("/v1/organizations/workspaces")
    async def list_workspaces(request: Request) -> Response:
        principal = await authenticate(auth, request)
        found = [workspace_object(w) for w in await admin.workspaces(principal)]
        return _json(Page[Workspace].model_validate(paged(request, found), from_attributes=True))

    @router.get("/v1/organizations/api_keys")
    async def list_keys(request: Request) -> Response:
        principal = await authenticate(auth, request)
        found = [key_object(k) for k in await admin.keys(principal)]
        status = request.query_params.get("status")
        found = [k for k in found if status is None or k.status == status]
        return _json(Page[ApiKey].model_validate(paged(request, found), from_attributes=True))

    @router.post("/v1/organizations/api_keys/{key_id}")
    async def update_key(request: Request, key_id: str) -> Response:
        principal = await authenticate(auth, request)
        params = parse(ApiKeyUpdateParams, await read_json(request, MAX_BODY))
        updated = await admin.update_key(principal, key_id, name=params.name, status=params.status)
        return _json(key_object(updated))

    @router.post("/v1/organizations/credit_purchases")
    async def buy_credit(request: Request) -> Response:
        principal = await authenticate(auth, request)
        params = parse(CreditPurchaseParams, await read_json(request, MAX_BODY))
        total, tier = await admin.buy_credit(principal, params.amount)
        return _json(CreditBalance(credit_purchased=total, tier=tier))

    return router
