"""Message Batches as their owner sees them: create, read, list, cancel, delete and the
results file. A batch belongs to the workspace of the key that made it: another workspace's
key gets a 404, an admin key sees the whole organization's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.domain.batches import END_STATES, BatchRecord, batch_id, check_requests, new_requests
from parley.domain.paging import Page, paginate
from parley.domain.ports import BatchQueue, Clock, Principal
from parley.errors import InvalidRequestError, NotFoundError
from parley.services.auth import require_workspace_key
from parley.services.limits import RateLimits


class Batches:
    def __init__(
        self, queue: BatchQueue, limits: RateLimits, clock: Clock, *, expires_seconds: float
    ) -> None:
        self._queue = queue
        self._limits = limits
        self._clock = clock
        self._lifetime = timedelta(seconds=expires_seconds)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def create(self, principal: Principal, body: Any, version: str | None) -> BatchRecord:
        """A batch is Messages API calls, billed to the workspace: an admin key gets 403."""
        require_workspace_key(principal)
        if not isinstance(body, dict):
            raise InvalidRequestError("request body must be a JSON object")
        extra = sorted(set(body) - {"requests"})
        if extra:
            raise InvalidRequestError(f"{extra[0]}: Extra inputs are not permitted")
        checked = check_requests(body.get("requests"))
        queued = await self._queue.queued(principal.organization_id)
        await self._limits.check_batch_queue(principal.organization_id, queued, len(checked))
        now = self.now()
        batch = BatchRecord(
            id=batch_id(),
            organization_id=principal.organization_id,
            workspace_id=principal.workspace_id,
            api_key_id=principal.key_id,
            version=version,
            total=len(checked),
            created_at=now,
            expires_at=now + self._lifetime,
        )
        await self._queue.create(batch, new_requests(checked))
        return batch

    async def get(self, principal: Principal, batch_id: str) -> BatchRecord:
        batch = await self._queue.get(batch_id)
        if batch is None or not _visible(principal, batch):
            raise NotFoundError(f"No message batch found with id {batch_id!r}")
        return batch

    async def live_counts(self, batch: BatchRecord) -> dict[str, int]:
        """Each state's requests now (the batch object tells only once it has ended)."""
        if batch.ended_at is not None:
            return batch.request_counts()
        tally = await self._queue.tally(batch.id)
        return {state: tally.get(state, 0) for state in ("processing", *END_STATES)}

    async def page(
        self, principal: Principal, limit: int, after_id: str | None, before_id: str | None
    ) -> Page[BatchRecord]:
        workspace = None if principal.is_admin else principal.workspace_id
        listed = await self._queue.listed(principal.organization_id, workspace)
        return paginate(listed, lambda b: b.id, limit=limit, after_id=after_id, before_id=before_id)

    async def cancel(self, principal: Principal, batch_id: str) -> BatchRecord:
        await self.get(principal, batch_id)
        await self._queue.cancel(batch_id, self.now())
        return await self.get(principal, batch_id)

    async def delete(self, principal: Principal, batch_id: str) -> None:
        batch = await self.get(principal, batch_id)
        if batch.ended_at is None:
            raise InvalidRequestError(
                f"Message Batch {batch_id} cannot be deleted while it is processing; "
                "cancel it first and wait for it to end."
            )
        await self._queue.delete(batch_id)

    async def results(self, principal: Principal, batch_id: str) -> AsyncIterator[bytes]:
        """The results file, one JSON line per request; a 404 until the batch has ended and
        once its results have been deleted."""
        batch = await self.get(principal, batch_id)
        if batch.ended_at is None:
            raise NotFoundError(f"Message Batch {batch_id} has not finished processing")
        if batch.archived_at is not None:
            raise NotFoundError(f"The results of Message Batch {batch_id} are no longer available")
        return self._lines(batch_id)

    async def _lines(self, batch_id: str) -> AsyncIterator[bytes]:
        async for row in self._queue.results(batch_id):
            yield row.line().encode()


def _visible(principal: Principal, batch: BatchRecord) -> bool:
    if batch.organization_id != principal.organization_id:
        return False
    return principal.is_admin or batch.workspace_id == principal.workspace_id
