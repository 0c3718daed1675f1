"""The batch worker: claims batch requests from the queue and runs each through the same
pipeline as `POST /v1/messages` (admit, then create) with a `batch` billing context, so
validation, caching, tools, structured outputs and usage are the Messages API's. It runs
inside `parley serve` or alone (`parley worker`); several share one PostgreSQL queue.

Exactly once: a request's ledger row is keyed by the request's own id, so a rerun after a
crash bills nothing twice, and its result is written only by the worker holding its lease."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from parley.domain.batches import ClaimedRequest, RequestState, batch_message_id
from parley.domain.billing import BillingContext
from parley.domain.invalid import from_validation_error
from parley.domain.ports import BatchQueue, Clock, Principal
from parley.errors import InternalServerError, OverloadedError, ParleyError
from parley.services.messages import MessagesService
from parley.wire.messages import MessageCreateParams

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 30.0  # seconds running requests get to finish when the worker stops


class BatchWorker:
    def __init__(
        self,
        queue: BatchQueue,
        messages: MessagesService,
        clock: Clock,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float,
        retention_seconds: float,
    ) -> None:
        self.id = f"worker_{uuid.uuid4().hex[:16]}"
        self._queue = queue
        self._messages = messages
        self._clock = clock
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._retention = timedelta(seconds=retention_seconds)
        self._running: set[asyncio.Task[None]] = set()
        self._full = False  # the engine refused a request: wait before claiming again

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def run(self) -> None:
        """Until cancelled; then lets running requests finish (for a while)."""
        renewed = 0.0
        try:
            while True:
                try:
                    now = self.now()
                    if self._clock.now() - renewed >= self._lease / 3:  # before the sweep
                        await self._queue.renew(self.id, now, self._lease)
                        renewed = self._clock.now()
                    await self._queue.sweep(now, now - self._retention)
                    claimed = await self._claim(now)
                except Exception:  # the database went away for a moment: try again
                    log.exception("batch worker step failed")
                    claimed = []
                if not claimed or self._full:
                    self._full = False
                    await self._wait()
        finally:
            await self._drain()

    async def _claim(self, now: datetime) -> list[ClaimedRequest]:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return []
        claimed = await self._queue.claim(self.id, free, now, self._lease)
        for request in claimed:
            task = asyncio.ensure_future(self._run_one(request))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return claimed

    async def _wait(self) -> None:
        if self._running:
            await asyncio.wait(
                set(self._running), timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
            )
        else:
            await asyncio.sleep(self._poll)

    async def _drain(self) -> None:
        if not self._running:
            return
        _, late = await asyncio.wait(set(self._running), timeout=SHUTDOWN_GRACE)
        for task in late:
            task.cancel()

    async def _run_one(self, request: ClaimedRequest) -> None:
        try:
            state, result = await self.execute(request)
        except OverloadedError:
            self._full = True
            await self._queue.release(request, self.id)
            return
        except Exception:
            log.exception("batch request %s failed; it will be claimed again", request.id)
            return
        if not await self._queue.complete(request, self.id, state, result, self.now()):
            log.warning("batch request %s was completed by another worker", request.id)

    async def execute(self, request: ClaimedRequest) -> tuple[RequestState, str]:
        """The request's result as its results line holds it; OverloadedError when the
        engine is full (the request is run later)."""
        try:
            params = MessageCreateParams.model_validate(json.loads(request.params))
        except ValidationError as exc:
            return "errored", _errored(from_validation_error(exc))
        principal = Principal(
            key_id=request.api_key_id,
            organization_id=request.organization_id,
            workspace_id=request.workspace_id,
            is_admin=False,
        )
        billing = BillingContext(service_tier="batch", geo=params.inference_geo)
        try:
            admitted = await self._messages.admit(
                params,
                principal,
                version=request.version,
                request_id=request.id,
                billing=billing,
                priority=BATCH_PRIORITY,
                fixed_id=batch_message_id(request.id),
            )
            message = await self._messages.create(admitted)
        except OverloadedError:
            raise
        except ParleyError as exc:
            return "errored", _errored(exc)
        except Exception:
            log.exception("batch request %s failed", request.id)
            return "errored", _errored(InternalServerError("Internal server error"))
        return "succeeded", f'{{"type":"succeeded","message":{message.model_dump_json()}}}'


BATCH_PRIORITY = 1  # below interactive requests (0): the engine runs them first


def _errored(exc: ParleyError) -> str:
    """The error the Messages API would have answered, in its envelope."""
    error: dict[str, object] = {"type": exc.error_type, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return json.dumps({"type": "errored", "error": {"type": "error", "error": error}})
