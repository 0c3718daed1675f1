"""`POST /v1/messages` and `POST /v1/messages/count_tokens`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from parley.routes.auth import authenticate
from parley.routes.body import parse, read_json
from parley.routes.errors import request_id_of
from parley.routes.sse import encode
from parley.services.auth import AuthService
from parley.services.messages import MessagesService
from parley.services.validation import check_billing_policy
from parley.wire.messages import CountTokensParams, MessageCreateParams, MessageTokensCount

T = TypeVar("T")


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Runs `work`, cancelling it (and so its generation) if the client goes away first."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    finally:
        watcher.cancel()


def messages_router(auth: AuthService, service: MessagesService, max_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/messages")
    async def create_message(request: Request) -> Response:
        principal = await authenticate(auth, request)
        params = parse(MessageCreateParams, await read_json(request, max_bytes))
        check_billing_policy(params, request.headers.get("anthropic-user-profile-id"))
        admitted = await service.admit(
            params,
            principal,
            version=request.headers.get("anthropic-version"),
            request_id=request_id_of(request) or "",
        )
        if params.stream:
            return StreamingResponse(
                encode(service.stream(admitted)),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", **admitted.headers},
            )
        message = await cancel_on_disconnect(request, service.create(admitted))
        return Response(
            message.model_dump_json(), media_type="application/json", headers=admitted.headers
        )

    @router.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> Response:
        await authenticate(auth, request)
        params = parse(CountTokensParams, await read_json(request, max_bytes))
        version = request.headers.get("anthropic-version")
        counted = MessageTokensCount(input_tokens=await service.count_tokens(params, version))
        return Response(counted.model_dump_json(), media_type="application/json")

    return router
