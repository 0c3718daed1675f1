"""The ledger: one row per billed request, inserted once (idempotent by request id) and
committed before the response completes. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, RowMapping, func, select
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
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
