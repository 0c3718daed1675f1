"""`/v1/messages/batches`: create, list, retrieve, cancel, delete, and the results file."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from parley.domain.batches import BatchRecord
from parley.routes.auth import authenticate
from parley.routes.body import read_json
from parley.routes.models import query_limit
from parley.services.auth import AuthService
from parley.services.batches import Batches
from parley.wire.batches import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchPage,
    MessageBatchRequestCounts,
)

ROOT = "/v1/messages/batches"


def wire_batch(batch: BatchRecord, request: Request) -> MessageBatch:
    """`results_url` points at this server, as the client reached it, once results exist."""
    has_results = batch.ended_at is not None and batch.archived_at is None
    base = str(request.base_url).rstrip("/")
    return MessageBatch(
        id=batch.id,
        processing_status=batch.processing_status,
        request_counts=MessageBatchRequestCounts(**batch.request_counts()),
        created_at=batch.created_at,
        expires_at=batch.expires_at,
        ended_at=batch.ended_at,
        cancel_initiated_at=batch.cancel_initiated_at,
        archived_at=batch.archived_at,
        results_url=f"{base}{ROOT}/{batch.id}/results" if has_results else None,
    )


def _json(batch: BatchRecord, request: Request) -> Response:
    return Response(wire_batch(batch, request).model_dump_json(), media_type="application/json")


def batches_router(auth: AuthService, batches: Batches, max_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.post(ROOT)
    async def create_batch(request: Request) -> Response:
        principal = await authenticate(auth, request)
        body = await read_json(request, max_bytes)
        version = request.headers.get("anthropic-version")
        return _json(await batches.create(principal, body, version), request)

    @router.get(ROOT)
    async def list_batches(request: Request) -> Response:
        principal = await authenticate(auth, request)
        query = request.query_params
        page = await batches.page(
            principal,
            query_limit(query.get("limit")),
            query.get("after_id"),
            query.get("before_id"),
        )
        body = MessageBatchPage(
            data=[wire_batch(b, request) for b in page.data],
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
        )
        return Response(body.model_dump_json(), media_type="application/json")

    @router.get(ROOT + "/{batch_id}")
    async def get_batch(batch_id: str, request: Request) -> Response:
        """Also tells the live tallies, in Parley's `parley-request-counts` header."""
        principal = await authenticate(auth, request)
        batch = await batches.get(principal, batch_id)
        response = _json(batch, request)
        response.headers["parley-request-counts"] = json.dumps(await batches.live_counts(batch))
        return response

    @router.post(ROOT + "/{batch_id}/cancel")
    async def cancel_batch(batch_id: str, request: Request) -> Response:
        principal = await authenticate(auth, request)
        return _json(await batches.cancel(principal, batch_id), request)

    @router.delete(ROOT + "/{batch_id}")
    async def delete_batch(batch_id: str, request: Request) -> Response:
        principal = await authenticate(auth, request)
        await batches.delete(principal, batch_id)
        deleted = DeletedMessageBatch(id=batch_id)
        return Response(deleted.model_dump_json(), media_type="application/json")

    @router.get(ROOT + "/{batch_id}/results")
    async def batch_results(batch_id: str, request: Request) -> Response:
        principal = await authenticate(auth, request)
        lines = await batches.results(principal, batch_id)
        return StreamingResponse(lines, media_type="application/binary")

    return router
