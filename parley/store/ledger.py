"""The ledger: one row per billed request, inserted once (idempotent by request id) and
committed before the response completes, together with the organization's running monthly
total that the spend cap reads. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, RowMapping, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.store.tables import ledger, spend_totals

_COLUMNS = [f.name for f in fields(LedgerEntry)]


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _month(value: datetime) -> str:
    """The key of a UTC month in `spend_totals`."""
    return _utc(value).astimezone(UTC).strftime("%Y-%m")


def _month_range(now: float) -> tuple[datetime, datetime]:
    today = datetime.fromtimestamp(now, UTC)
    start = datetime(today.year, today.month, 1, tzinfo=UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, datetime(year, month, 1, tzinfo=UTC)


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
        """True if this call wrote the row, False if the request id was already there. The
        month's total grows in the same transaction, and only when the row was written."""
        statement = (
            self._insert(ledger)
            .values(**asdict(entry))
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(ledger.c.request_id)
        )
        add = self._insert(spend_totals).values(
            organization_id=entry.organization_id,
            month=_month(entry.completed_at),
            cost_picodollars=entry.cost_picodollars,
        )
        add = add.on_conflict_do_update(
            index_elements=["organization_id", "month"],
            set_={
                "cost_picodollars": spend_totals.c.cost_picodollars + add.excluded.cost_picodollars
            },
        )

        def insert() -> bool:
            with self._engine.begin() as conn:
                written = conn.execute(statement).first() is not None
                if written:
                    conn.execute(add)
                return written

        return await asyncio.to_thread(insert)

    async def reconcile_spend(self, now: float) -> None:
        """Sets the current month's totals to what the ledger holds (run on start). Other
        replicas' inserts wait for it, so none of their additions is lost."""
        start, end = _month_range(now)
        sums = (
            select(ledger.c.organization_id, func.sum(ledger.c.cost_picodollars))
            .where(ledger.c.completed_at >= start)
            .where(ledger.c.completed_at < end)
            .group_by(ledger.c.organization_id)
        )
        month = _month(start)

        def rebuild() -> None:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("LOCK TABLE spend_totals IN EXCLUSIVE MODE"))
                conn.execute(delete(spend_totals).where(spend_totals.c.month == month))
                rows = [
                    {"organization_id": org, "month": month, "cost_picodollars": int(total)}
                    for org, total in conn.execute(sums).all()
                ]
                if rows:
                    conn.execute(spend_totals.insert(), rows)

        await asyncio.to_thread(rebuild)

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

    async def month_spend(self, organization_id: str, now: float) -> Decimal:
        """USD billed in the current UTC month (the spend cap's window): the running total."""
        statement = (
            select(spend_totals.c.cost_picodollars)
            .where(spend_totals.c.organization_id == organization_id)
            .where(spend_totals.c.month == _month(_month_range(now)[0]))
        )

        def query() -> int:
            with self._engine.connect() as conn:
                return int(conn.execute(statement).scalar_one_or_none() or 0)

        return Decimal(await asyncio.to_thread(query)) / PICO
