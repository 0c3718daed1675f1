"""ASGI middleware at the very edge: a `request-id` on every response, an envelope (not a
bare 500 page) for any error no handler caught, and the request's access-log record, begun
here and written when the response has ended."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.domain.access import AccessRecord
from parley.domain.ids import request_id
from parley.errors import InternalServerError
from parley.routes.access import AccessLog, route_of
from parley.routes.errors import error_response

log = logging.getLogger(__name__)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, access: AccessLog) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id()
        record = AccessRecord(rid, scope["method"], scope["path"], time.monotonic())
        state = scope.setdefault("state", {})
        state["request_id"], state["access"] = rid, record
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", rid, extra={"request_id": rid})
            record.error_type = "api_error"
            if started:
                raise
            response = error_response(InternalServerError("Internal server error"), rid)
            await response(scope, receive, send_with_id)
        finally:
            self.access.end(record, route_of(scope))
