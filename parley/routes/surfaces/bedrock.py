"""The Amazon Bedrock runtime shape: `POST /model/{modelId}/invoke` and
`/model/{modelId}/invoke-with-response-stream`, also under `/bedrock/{region}` so that a base URL
can name its region the way a regional host does. The body is the first-party body less `model`
and `stream`, with `anthropic_version` and `anthropic_beta` in it."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from parley.domain.billing import BillingContext
from parley.domain.catalog import Catalog
from parley.domain.surface_ids import bedrock_model
from parley.errors import NotFoundError
from parley.routes.access import note_principal, trace_of
from parley.routes.body import decode_json, parse, read_body
from parley.routes.errors import request_id_of
from parley.routes.messages import cancel_on_disconnect
from parley.routes.surfaces.aws import bedrock_error, received
from parley.routes.surfaces.bedrock_stream import frames
from parley.routes.surfaces.common import surface_route, translate_body
from parley.services.bedrock_auth import BedrockAuth
from parley.services.messages import MessagesService
from parley.wire.messages import MessageCreateParams

# `anthropic_version` in the body -> the first-party API version it stands for
VERSIONS = {"bedrock-2023-05-31": "2023-06-01", "2026-10-21": "2026-10-21"}
EVENT_STREAM = "application/vnd.amazon.eventstream"


def bedrock_router(
    auth: BedrockAuth, service: MessagesService, catalog: Catalog, max_bytes: int
) -> APIRouter:
    router = APIRouter(route_class=surface_route(bedrock_error))

    async def invoke(request: Request, model_id: str, region: str | None, stream: bool) -> Response:
        started = time.perf_counter()
        body = await read_body(request, max_bytes)
        caller = await auth.authenticate(received(request, body), region)
        note_principal(request, caller.principal)
        try:
            model = bedrock_model(catalog, model_id)
        except NotFoundError:
            raise NotFoundError(
                f"Could not resolve the foundation model from model identifier {model_id}."
            ) from None
        fields, version = translate_body(
            decode_json(body),
            VERSIONS,
            refused=("model", "stream"),
            dropped=("anthropic_beta", "user_profile_id"),
        )
        params = parse(
            MessageCreateParams,
            {**fields, "model": model.entry.id, **({"stream": True} if stream else {})},
        )
        request_id = request_id_of(request) or ""
        admitted = await service.admit(
            params,
            caller.principal,
            version=version,
            request_id=request_id,
            billing=BillingContext(surface="bedrock", region=caller.region, geo=model.geo),
            trace=trace_of(request),
        )
        if stream:
            return StreamingResponse(
                frames(service.stream(admitted), started),
                media_type=EVENT_STREAM,
                headers={
                    "x-amzn-requestid": request_id,
                    "x-amzn-bedrock-content-type": "application/json",
                },
            )
        message = await cancel_on_disconnect(request, service.create(admitted))
        usage = message.usage
        return Response(
            message.model_dump_json(),
            media_type="application/json",
            headers={
                "x-amzn-requestid": request_id,
                "x-amzn-bedrock-input-token-count": str(usage.input_tokens),
                "x-amzn-bedrock-output-token-count": str(usage.output_tokens),
                "x-amzn-bedrock-cache-read-input-token-count": str(usage.cache_read_input_tokens),
                "x-amzn-bedrock-cache-write-input-token-count": str(
                    usage.cache_creation_input_tokens
                ),
                "x-amzn-bedrock-invocation-latency": str(
                    round((time.perf_counter() - started) * 1000)
                ),
            },
        )

    @router.post("/model/{model_id:path}/invoke")
    async def invoke_model(request: Request, model_id: str) -> Response:
        return await invoke(request, model_id, None, stream=False)

    @router.post("/model/{model_id:path}/invoke-with-response-stream")
    async def invoke_model_stream(request: Request, model_id: str) -> Response:
        return await invoke(request, model_id, None, stream=True)

    @router.post("/bedrock/{region}/model/{model_id:path}/invoke")
    async def invoke_model_in(request: Request, region: str, model_id: str) -> Response:
        return await invoke(request, model_id, region, stream=False)

    @router.post("/bedrock/{region}/model/{model_id:path}/invoke-with-response-stream")
    async def invoke_model_stream_in(request: Request, region: str, model_id: str) -> Response:
        return await invoke(request, model_id, region, stream=True)

    return router
