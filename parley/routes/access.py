"""The access log and the latency histograms: one line and one observation per request, when
its response has ended. The line carries no secret and no prompt text unless the operator
turned prompt logging on; a server error is also logged with its traceback and request id."""

from __future__ import annotations

import logging
import time

from fastapi import Request
from starlette.types import Scope

from parley.domain.access import AccessRecord
from parley.domain.ports import Principal
from parley.errors import ParleyError
from parley.metrics import Metrics

log = logging.getLogger("parley.access")
errors_log = logging.getLogger("parley.errors")
UNMATCHED = "unmatched"  # the route label of a path no route serves (a bounded label set)


def trace_of(request: Request) -> AccessRecord | None:
    record = getattr(request.state, "access", None)
    return record if isinstance(record, AccessRecord) else None


def note_principal(request: Request, principal: Principal) -> None:
    record = trace_of(request)
    if record is not None:
        record.principal = principal


def note_error(request: Request, exc: ParleyError) -> None:
    """Records the error type for the access line; a server error (5xx other than the 529 of
    an overloaded engine, which the access line reports alone) is logged with its traceback."""
    record = trace_of(request)
    if record is not None:
        record.error_type = exc.error_type
    if exc.status >= 500 and exc.status != 529:
        request_id = getattr(request.state, "request_id", None)
        errors_log.error(
            "request %s failed: %s %s",
            request_id,
            exc.status,
            exc.message,
            exc_info=exc,
            extra={"request_id": request_id},
        )


def route_of(scope: Scope) -> str:
    """The matched route's path template (`/v1/messages`, `/model/{model_id}/invoke`)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class AccessLog:
    def __init__(self, metrics: Metrics, *, enabled: bool, prompts: bool) -> None:
        self._metrics = metrics
        self._enabled = enabled
        self._prompts = prompts

    def end(self, record: AccessRecord, route: str) -> None:
        ended = time.monotonic()
        labels = (record.model or "", route, str(record.status or 500))
        self._metrics.request_seconds.labels(*labels).observe(ended - record.started)
        if record.first_token_at is not None:
            ttft = record.first_token_at - record.started
            self._metrics.ttft_seconds.labels(*labels).observe(ttft)
        if self._enabled:
            fields = record.fields(ended, with_prompt=self._prompts)
            log.info("access", extra={"access": fields, "request_id": record.request_id})
