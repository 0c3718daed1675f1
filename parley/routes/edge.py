"""ASGI middleware at the very edge: a `request-id` on every response, and an envelope (not a
bare 500 page) for any error no handler caught."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.domain.ids import request_id
from parley.errors import InternalServerError
from parley.routes.errors import error_response

log = logging.getLogger(__name__)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", rid)
            if started:
                raise
            response = error_response(InternalServerError("Internal server error"), rid)
            await response(scope, receive, send_with_id)
