"""The ledger: one row per billed request, inserted once (idempotent by request id) and
committed before the response completes. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, RowMapping, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.domain.reports import SUMMED, Totals
from parley.store.tables import ledger

_COLUMNS = [f.name for f in fields(LedgerEntry)]


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _entry(row: RowMapping) -> LedgerEntry:
    values: dict[str, Any] = {name: row[name] for name in _COLUMNS}
    values["started_at"] = _utc(values["started_at"])
    values["completed_at"] = _utc(values["completed_at"])
    return LedgerEntry(**values)


# SQLite keeps a datetime as text, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC: a bucket is a prefix.
_SQLITE_PREFIX = {"1m": 16, "1h": 13, "1d": 10}
_POSTGRES_UNIT = {"1m": "minute", "1h": "hour", "1d": "day"}


def _bucket_start(value: datetime | str) -> datetime:
    if isinstance(value, str):
        padded = value + "0000-01-01 00:00:00"[len(value) :]
        return datetime.fromisoformat(padded).replace(tzinfo=UTC)
    return _utc(value)


def _dimension(name: str) -> ColumnElement[Any]:
    """A report dimension as a column: `inference_geo` is the held geo, or `not_available`."""
    if name == "inference_geo":
        return func.coalesce(ledger.c.geo, literal("not_available"))
    return ledger.c[name]


class LedgerStore:
    """Implements `ports.Ledger` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    async def record(self, entry: LedgerEntry) -> bool:
        """True if this call wrote the row, False if the request id was already there."""
        statement = (
            self._insert(ledger)
            .values(**asdict(entry))
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(ledger.c.request_id)
        )

        def insert() -> bool:
            with self._engine.begin() as conn:
                return conn.execute(statement).first() is not None

        return await asyncio.to_thread(insert)

    async def read(
        self, organization_id: str, starting_at: datetime, ending_at: datetime
    ) -> list[LedgerEntry]:
        query = (
            select(ledger)
            .where(ledger.c.organization_id == organization_id)
            .where(ledger.c.completed_at >= starting_at)
            .where(ledger.c.completed_at < ending_at)
            .order_by(ledger.c.completed_at, ledger.c.request_id)
        )

        def fetch() -> list[LedgerEntry]:
            with self._engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
            return [_entry(row) for row in rows]

        return await asyncio.to_thread(fetch)

    def _bucket(self, width: str) -> ColumnElement[Any]:
        if self._engine.dialect.name == "postgresql":
            utc = func.timezone("UTC", ledger.c.completed_at)
            return func.date_trunc(_POSTGRES_UNIT[width], utc)
        return func.substr(ledger.c.completed_at, 1, _SQLITE_PREFIX[width])

    async def totals(
        self,
        organization_id: str,
        starting_at: datetime,
        ending_at: datetime,
        width: str,
        dimensions: Sequence[str],
    ) -> list[Totals]:
        """One grouped query: the sums of every bucket of `width` and group of `dimensions`."""
        bucket = self._bucket(width).label("bucket")
        groups = [_dimension(name).label(f"d{i}") for i, name in enumerate(dimensions)]
        sums = [func.count().label("requests")]
        sums += [func.sum(ledger.c[name]).label(name) for name in SUMMED]
        query = (
            select(bucket, *groups, *sums)
            .where(ledger.c.organization_id == organization_id)
            .where(ledger.c.completed_at >= starting_at.astimezone(UTC))
            .where(ledger.c.completed_at < ending_at.astimezone(UTC))
            .group_by(bucket, *groups)
        )

        def fetch() -> list[Totals]:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
            return [
                Totals(
                    _bucket_start(row[0]),
                    tuple(row[1 : 1 + len(groups)]),
                    *(int(value) for value in row[1 + len(groups) :]),
                )
                for row in rows
            ]

        return await asyncio.to_thread(fetch)

    async def spend_since(self, organization_id: str, since: datetime) -> int:
        """Picodollars billed to the organization since `since`."""

        def query() -> int:
            statement = (
                select(func.coalesce(func.sum(ledger.c.cost_picodollars), 0))
                .where(ledger.c.organization_id == organization_id)
                .where(ledger.c.completed_at >= since)
            )
            with self._engine.connect() as conn:
                return int(conn.execute(statement).scalar_one())

        return await asyncio.to_thread(query)

    async def month_spend(self, organization_id: str, now: float) -> Decimal:
        """USD billed since the start of the current UTC month (the spend cap's window)."""
        today = datetime.fromtimestamp(now, UTC)
        start = datetime(today.year, today.month, 1, tzinfo=UTC)
        return Decimal(await self.spend_since(organization_id, start)) / PICO
