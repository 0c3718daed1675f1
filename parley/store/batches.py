"""The batch queue on SQLAlchemy Core, the same code on SQLite and PostgreSQL. Workers claim
requests under leases; on PostgreSQL the claim locks with `FOR UPDATE SKIP LOCKED`, so
several workers on several machines never claim the same request; on SQLite one worker runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from parley.domain.batches import (
    END_STATES,
    BatchRecord,
    ClaimedRequest,
    NewRequest,
    RequestState,
    ResultRow,
)
from parley.store.tables import batch_requests as requests
from parley.store.tables import message_batches as batches

PAGE = 1000


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record(row: RowMapping) -> BatchRecord:
    created, expires = _utc(row["created_at"]), _utc(row["expires_at"])
    assert created is not None and expires is not None
    return BatchRecord(
        id=row["id"],
        organization_id=row["organization_id"],
        workspace_id=row["workspace_id"],
        api_key_id=row["api_key_id"],
        version=row["version"],
        total=row["total"],
        created_at=created,
        expires_at=expires,
        ended_at=_utc(row["ended_at"]),
        cancel_initiated_at=_utc(row["cancel_initiated_at"]),
        archived_at=_utc(row["archived_at"]),
        counts={state: row[state] for state in END_STATES},
    )


def _unheld(now: datetime) -> Any:
    """Requests no live worker holds: never claimed, given back, or their lease lapsed."""
    return or_(requests.c.lease_owner.is_(None), requests.c.lease_until < now.timestamp())


class BatchStore:
    """Implements `ports.BatchQueue`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def create(self, batch: BatchRecord, new: Sequence[NewRequest]) -> None:
        row = {k: v for k, v in asdict(batch).items() if k != "counts"}
        rows = [{**asdict(r), "batch_id": batch.id, "state": "processing"} for r in new]

        def insert() -> None:
            with self._engine.begin() as conn:
                conn.execute(batches.insert().values(**row))
                for start in range(0, len(rows), PAGE):
                    conn.execute(requests.insert(), rows[start : start + PAGE])

        await asyncio.to_thread(insert)

    async def get(self, batch_id: str) -> BatchRecord | None:
        def fetch() -> BatchRecord | None:
            with self._engine.connect() as conn:
                row = conn.execute(select(batches).where(batches.c.id == batch_id)).mappings()
                found = row.first()
            return None if found is None else _record(found)

        return await asyncio.to_thread(fetch)

    async def listed(self, organization_id: str, workspace_id: str | None) -> list[BatchRecord]:
        query = select(batches).where(batches.c.organization_id == organization_id)
        if workspace_id is not None:
            query = query.where(batches.c.workspace_id == workspace_id)
        query = query.order_by(batches.c.created_at.desc(), batches.c.id.desc())

        def fetch() -> list[BatchRecord]:
            with self._engine.connect() as conn:
                return [_record(row) for row in conn.execute(query).mappings()]

        return await asyncio.to_thread(fetch)

    async def tally(self, batch_id: str) -> dict[str, int]:
        def count() -> dict[str, int]:
            with self._engine.connect() as conn:
                return _tally(conn, batch_id)

        return await asyncio.to_thread(count)

    async def queued(self, organization_id: str) -> int:
        query = (
            select(func.count())
            .select_from(requests.join(batches, batches.c.id == requests.c.batch_id))
            .where(batches.c.organization_id == organization_id)
            .where(requests.c.state == "processing")
        )

        def count() -> int:
            with self._engine.connect() as conn:
                return int(conn.execute(query).scalar_one())

        return await asyncio.to_thread(count)

    async def cancel(self, batch_id: str, now: datetime) -> None:
        def run() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, batches.c.cancel_initiated_at.is_(None))
                    .where(batches.c.ended_at.is_(None))
                    .values(cancel_initiated_at=now)
                )
                conn.execute(
                    update(requests)
                    .where(requests.c.batch_id == batch_id, requests.c.state == "processing")
                    .where(_unheld(now))
                    .values(state="canceled", lease_owner=None, lease_until=None)
                )
                _end_if_done(conn, batch_id, now)

        await asyncio.to_thread(run)

    async def delete(self, batch_id: str) -> None:
        def run() -> None:
            with self._engine.begin() as conn:
                conn.execute(delete(requests).where(requests.c.batch_id == batch_id))
                conn.execute(delete(batches).where(batches.c.id == batch_id))

        await asyncio.to_thread(run)

    async def results(self, batch_id: str) -> AsyncIterator[ResultRow]:
        after = -1
        while True:
            page = await asyncio.to_thread(self._results_page, batch_id, after)
            for _seq, row in page:
                yield row
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def _results_page(self, batch_id: str, after: int) -> list[tuple[int, ResultRow]]:
        query = (
            select(requests.c.seq, requests.c.custom_id, requests.c.state, requests.c.result)
            .where(requests.c.batch_id == batch_id, requests.c.seq > after)
            .order_by(requests.c.seq)
            .limit(PAGE)
        )
        with self._engine.connect() as conn:
            return [
                (row.seq, ResultRow(row.custom_id, row.state, row.result))
                for row in conn.execute(query)
            ]

    async def claim(
        self, worker: str, limit: int, now: datetime, lease: float
    ) -> list[ClaimedRequest]:
        leader = requests.alias("leader")
        leader_running = exists().where(
            leader.c.id == requests.c.leader_id, leader.c.state == "processing"
        )
        pick = (
            select(requests.c.id)
            .select_from(requests.join(batches, batches.c.id == requests.c.batch_id))
            .where(requests.c.state == "processing", _unheld(now))
            .where(batches.c.cancel_initiated_at.is_(None), batches.c.expires_at > now)
            .where(or_(requests.c.leader_id.is_(None), ~leader_running))
            .order_by(batches.c.created_at, requests.c.rank, requests.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True, of=requests)
        )
        fields = [
            requests.c.id,
            requests.c.batch_id,
            requests.c.custom_id,
            requests.c.params,
            batches.c.organization_id,
            batches.c.workspace_id,
            batches.c.api_key_id,
            batches.c.version,
        ]

        def run() -> list[ClaimedRequest]:
            with self._engine.begin() as conn:
                ids = list(conn.execute(pick).scalars())
                if not ids:
                    return []
                conn.execute(
                    update(requests)
                    .where(requests.c.id.in_(ids))
                    .values(lease_owner=worker, lease_until=now.timestamp() + lease)
                )
                rows = conn.execute(
                    select(*fields)
                    .select_from(requests.join(batches, batches.c.id == requests.c.batch_id))
                    .where(requests.c.id.in_(ids))
                    .order_by(batches.c.created_at, requests.c.rank, requests.c.seq)
                ).mappings()
                return [ClaimedRequest(**row) for row in rows]

        return await asyncio.to_thread(run)

    async def renew(self, worker: str, now: datetime, lease: float) -> None:
        def run() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    update(requests)
                    .where(requests.c.lease_owner == worker, requests.c.state == "processing")
                    .values(lease_until=now.timestamp() + lease)
                )

        await asyncio.to_thread(run)

    async def release(self, request: ClaimedRequest, worker: str) -> None:
        def run() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    update(requests)
                    .where(requests.c.id == request.id, requests.c.lease_owner == worker)
                    .values(lease_owner=None, lease_until=None)
                )

        await asyncio.to_thread(run)

    async def complete(
        self,
        request: ClaimedRequest,
        worker: str,
        state: RequestState,
        result: str | None,
        now: datetime,
    ) -> bool:
        def run() -> bool:
            with self._engine.begin() as conn:
                done = conn.execute(
                    update(requests)
                    .where(requests.c.id == request.id, requests.c.state == "processing")
                    .where(requests.c.lease_owner == worker)
                    .values(state=state, result=result, lease_owner=None, lease_until=None)
                ).rowcount
                if done:
                    _end_if_done(conn, request.batch_id, now)
                return bool(done)

        return await asyncio.to_thread(run)

    async def sweep(self, now: datetime, archive_before: datetime) -> None:
        def run() -> None:
            with self._engine.begin() as conn:
                open_ = list(
                    conn.execute(select(batches.c.id).where(batches.c.ended_at.is_(None))).scalars()
                )
                overdue = select(batches.c.id).where(
                    batches.c.ended_at.is_(None), batches.c.expires_at <= now
                )
                conn.execute(
                    update(requests)
                    .where(requests.c.batch_id.in_(overdue), requests.c.state == "processing")
                    .where(_unheld(now))
                    .values(state="expired", lease_owner=None, lease_until=None)
                )
                for batch_id in open_:
                    _end_if_done(conn, batch_id, now)
                stale = select(batches.c.id).where(
                    batches.c.archived_at.is_(None),
                    batches.c.ended_at.is_not(None),
                    batches.c.created_at < archive_before,
                )
                conn.execute(delete(requests).where(requests.c.batch_id.in_(stale)))
                conn.execute(update(batches).where(batches.c.id.in_(stale)).values(archived_at=now))

        await asyncio.to_thread(run)


def _end_if_done(conn: Connection, batch_id: str, now: datetime) -> None:
    """Ends the batch, with its tallies, once none of its requests is processing."""
    processing = select(requests.c.id).where(
        requests.c.state == "processing", requests.c.batch_id == batch_id
    )
    if conn.execute(processing.limit(1)).first() is not None:
        return
    tally = _tally(conn, batch_id)
    conn.execute(
        update(batches)
        .where(and_(batches.c.id == batch_id, batches.c.ended_at.is_(None)))
        .values(ended_at=now, **{state: int(tally.get(state, 0)) for state in END_STATES})
    )


def _tally(conn: Connection, batch_id: str) -> dict[str, int]:
    counted = conn.execute(
        select(requests.c.state, func.count())
        .where(requests.c.batch_id == batch_id)
        .group_by(requests.c.state)
    )
    return {state: int(n) for state, n in counted}
