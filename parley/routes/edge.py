"""ASGI middleware at the very edge: a `request-id` on every response, an envelope (not a
bare 500 page) for any error no handler caught, a deadline on receiving a request's body, and
the request's access-log record, begun here and written when the response has ended."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.domain.access import AccessRecord
from parley.domain.ids import request_id
from parley.errors import InternalServerError, RequestTimeoutError
from parley.routes.access import AccessLog, route_of
from parley.routes.errors import error_response

log = logging.getLogger(__name__)


class EdgeMiddleware:
    """`request_timeout`: seconds from a request's start within which its whole body must
    arrive; past it, reading the body raises a 408 and the connection is closed afterwards (a
    client trickling bytes must not hold it)."""

    def __init__(self, app: ASGIApp, access: AccessLog, request_timeout: float = 30.0) -> None:
        self.app = app
        self.access = access
        self.request_timeout = request_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id()
        record = AccessRecord(rid, scope["method"], scope["path"], time.monotonic())
        state = scope.setdefault("state", {})
        state["request_id"], state["access"] = rid, record
        started = False
        timed_out = False
        body_done = False
        deadline = asyncio.get_running_loop().time() + self.request_timeout

        async def receive_in_time() -> Message:
            nonlocal timed_out, body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise RequestTimeoutError(
                    f"request body not received within {self.request_timeout:g} seconds"
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.status = message["status"]
                extra = [(b"request-id", rid.encode())]
                if timed_out:
                    extra.append((b"connection", b"close"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", rid, extra={"request_id": rid})
            record.error_type = "api_error"
            if started:
                raise
            response = error_response(InternalServerError("Internal server error"), rid)
            await response(scope, receive, send_with_id)
        finally:
            self.access.end(record, route_of(scope))
