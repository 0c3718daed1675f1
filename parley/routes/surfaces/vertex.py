"""The Vertex AI shape: `POST /v1/projects/{project}/locations/{region}/publishers/anthropic/
models/{model}:rawPredict` (and `:streamRawPredict`, ordinary SSE), and `.../models/
count-tokens:rawPredict` with the model in the body. A Parley key is the bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from parley.domain.billing import BillingContext
from parley.domain.catalog import Catalog, ModelEntry
from parley.domain.surface_ids import vertex_model
from parley.errors import InvalidRequestError, NotFoundError
from parley.routes.access import note_principal, trace_of
from parley.routes.body import parse, read_json
from parley.routes.errors import request_id_of
from parley.routes.messages import cancel_on_disconnect
from parley.routes.sse import encode
from parley.routes.surfaces.common import surface_route, translate_body
from parley.routes.surfaces.vertex_errors import vertex_error
from parley.services.auth import AuthService, require_workspace_key
from parley.services.messages import MessagesService
from parley.wire.messages import CountTokensParams, MessageCreateParams, MessageTokensCount

# `anthropic_version` in the body -> the first-party API version it stands for
VERSIONS = {"vertex-2023-10-16": "2023-06-01", "2026-10-21": "2026-10-21"}
MODELS = "/v1/projects/{project}/locations/{region}/publishers/anthropic/models"
COUNT_TOKENS = "count-tokens"


def vertex_router(
    auth: AuthService, service: MessagesService, catalog: Catalog, max_bytes: int
) -> APIRouter:
    router = APIRouter(route_class=surface_route(vertex_error))

    def resolve(project: str, region: str, model: str) -> ModelEntry:
        try:
            return vertex_model(catalog, model)
        except NotFoundError:
            raise NotFoundError(
                f"Publisher Model `projects/{project}/locations/{region}/publishers/anthropic/"
                f"models/{model}` not found."
            ) from None

    @router.post(MODELS + "/{target}")
    async def predict(request: Request, project: str, region: str, target: str) -> Response:
        model, _, action = target.rpartition(":")
        principal = await auth.authenticate(
            request.headers.get("x-api-key"), request.headers.get("authorization")
        )
        note_principal(request, principal)
        body = await read_json(request, max_bytes)
        if model == COUNT_TOKENS and action == "rawPredict":
            require_workspace_key(principal)
            return await count_tokens(project, region, body)
        if not model or action not in ("rawPredict", "streamRawPredict"):
            raise NotFoundError(f"Not found: POST {request.url.path}")
        entry = resolve(project, region, model)
        fields, version = translate_body(body, VERSIONS, refused=("model",), dropped=("stream",))
        streaming = action == "streamRawPredict"
        params = parse(
            MessageCreateParams,
            {**fields, "model": entry.id, **({"stream": True} if streaming else {})},
        )
        admitted = await service.admit(
            params,
            principal,
            version=version,
            request_id=request_id_of(request) or "",
            billing=BillingContext(surface="vertex", region=region),
            trace=trace_of(request),
        )
        if streaming:
            return StreamingResponse(
                encode(service.stream(admitted)),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        message = await cancel_on_disconnect(request, service.create(admitted))
        return Response(message.model_dump_json(), media_type="application/json")

    async def count_tokens(project: str, region: str, body: object) -> Response:
        fields, version = translate_body(body, VERSIONS, refused=(), dropped=())
        model = fields.get("model")
        if not isinstance(model, str):
            missing = model is None
            raise InvalidRequestError(
                "model: Field required" if missing else "model: Input should be a valid string"
            )
        fields["model"] = resolve(project, region, model).id
        params = parse(CountTokensParams, fields)
        billing = BillingContext(surface="vertex", region=region)
        counted = MessageTokensCount(
            input_tokens=await service.count_tokens(params, version, billing)
        )
        return Response(counted.model_dump_json(), media_type="application/json")

    return router
