"""`GET /v1/models` (paged, newest first) and `GET /v1/models/{id}` (aliases resolve)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.domain.catalog import Catalog, Lifecycle, ModelEntry, capabilities
from parley.domain.paging import paginate
from parley.errors import InvalidRequestError
from parley.routes.auth import authenticate
from parley.services.auth import AuthService
from parley.wire.models import ModelInfo, ModelPage


def model_info(entry: ModelEntry) -> ModelInfo:
    return ModelInfo(
        id=entry.id,
        display_name=entry.display_name,
        created_at=entry.created_at,
        max_input_tokens=entry.context_window,
        max_tokens=entry.max_output,
        capabilities=capabilities(entry),
        lifecycle=entry.lifecycle,
        deprecated_at=entry.deprecated_at,
        retires_at=entry.retires_at,
    )


def query_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequestError("limit: Input should be a valid integer") from None


def _lifecycles(values: list[str]) -> list[Lifecycle]:
    if not values:
        return ["active", "deprecated"]
    allowed: tuple[Lifecycle, ...] = ("active", "deprecated", "retired")
    chosen = [v for v in allowed if v in values]
    if len(chosen) != len(set(values)):
        raise InvalidRequestError(
            "lifecycle[]: Input should be 'active', 'deprecated' or 'retired'"
        )
    return chosen


def models_router(auth: AuthService, catalog: Catalog) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/models")
    async def list_models(request: Request) -> Response:
        await authenticate(auth, request)
        query = request.query_params
        page = paginate(
            catalog.listed(_lifecycles(query.getlist("lifecycle[]"))),
            key=lambda e: e.id,
            limit=query_limit(query.get("limit")),
            after_id=query.get("after_id"),
            before_id=query.get("before_id"),
        )
        body = ModelPage(
            data=[model_info(e) for e in page.data],
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
        )
        return Response(body.model_dump_json(), media_type="application/json")

    @router.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> Response:
        await authenticate(auth, request)
        info = model_info(catalog.get(model_id))
        return Response(info.model_dump_json(), media_type="application/json")

    return router
