"""The HTTP server around the app: uvicorn's h11 protocol with two guards it lacks. A connection
that sends no request within `request_timeout_seconds` is closed (thousands of idle connections
cost nothing for long), and a request uvicorn cannot parse (malformed, or headers over
`max_header_bytes`) is answered in the contract's envelope instead of plain text."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from parley.domain.ids import request_id
from parley.settings import Settings


def envelope_bytes(message: str, rid: str) -> bytes:
    error = {"type": "invalid_request_error", "message": message}
    return json.dumps({"type": "error", "error": error, "request_id": rid}).encode()


class GuardedH11Protocol(H11Protocol):
    """`request_timeout`: seconds a new connection may take to send its request headers;
    `max_header_bytes`: what h11 may buffer of them (uvicorn passes it on)."""

    request_timeout = 30.0
    max_header_bytes = 64 * 1024

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._deadline = self.loop.call_later(self.request_timeout, self._close_if_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)

    def _close_if_idle(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        too_large = len(buffered) > self.max_header_bytes
        status = 431 if too_large else 400
        message = "request headers are too large" if too_large else "malformed HTTP request"
        rid = request_id()
        body = envelope_bytes(message, rid)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"request-id", rid.encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


# Longer than the idle time after which HTTP clients drop a pooled connection (httpx, and so
# the official SDKs, wait 5 s): the client always lets go first, so it never sends a request
# on a connection the server is closing at that moment (a connection error, not a status).
KEEP_ALIVE_SECONDS = 30


def server_config(app: Any, settings: Settings, **extra: Any) -> uvicorn.Config:
    """uvicorn's config for `app` as `parley serve` runs it (`extra`: e.g. `log_level`)."""
    protocol = type(
        "ParleyH11Protocol",
        (GuardedH11Protocol,),
        {
            "request_timeout": settings.request_timeout_seconds,
            "max_header_bytes": settings.max_header_bytes,
        },
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **extra,
    )
