"""The ledger: one row per billed request, inserted once (idempotent by request id) and
committed before the response completes. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.domain.reports import SUMMED, WHOLE, Totals
from parley.store.tables import DAILY_KEY, DAILY_SUMS, ledger, ledger_daily

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


def _daily_dimension(name: str) -> ColumnElement[Any]:
    """The same dimension in `ledger_daily`, where unknown values are ''."""
    if name == "inference_geo":
        return case((ledger_daily.c.geo == "", literal("not_available")), else_=ledger_daily.c.geo)
    if name in ("workspace_id", "api_key_id"):
        return func.nullif(ledger_daily.c[name], "")
    return ledger_daily.c[name]


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _midnight(moment: datetime, *, up: bool) -> datetime:
    """`moment`'s UTC day start; with `up`, the next one unless `moment` is one."""
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1) if up and start != moment else start


def _totals(rows: Sequence[Any], groups: int, whole: datetime | None) -> list[Totals]:
    """Totals of result rows: (bucket, *groups, requests, *sums), or with `whole` (the start
    of a range summed as one bucket) no bucket column."""
    first = 0 if whole else 1
    return [
        Totals(
            whole or _bucket_start(row[0]),
            tuple(row[first : first + groups]),
            *(int(value) for value in row[first + groups :]),
        )
        for row in rows
        if row[first + groups]  # an ungrouped sum over no rows is one row of nothing
    ]


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
                written = conn.execute(statement).first() is not None
                if written:
                    self._add_to_day(conn, entry)
                return written

        return await asyncio.to_thread(insert)

    def _add_to_day(self, conn: Connection, entry: LedgerEntry) -> None:
        values: dict[str, Any] = {name: getattr(entry, name, None) for name in DAILY_KEY}
        values |= {"day": _day(entry.completed_at), "requests": 1}
        for name in ("workspace_id", "api_key_id", "geo"):
            values[name] = values[name] or ""
        values |= {name: getattr(entry, name) for name in SUMMED}
        upsert = self._insert(ledger_daily).values(**values)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=list(DAILY_KEY),
                set_={name: ledger_daily.c[name] + upsert.excluded[name] for name in DAILY_SUMS},
            )
        )

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
        """The sums of every bucket of `width` and group of `dimensions`: one grouped query
        over the rows; for day buckets (and WHOLE), over `ledger_daily` for the whole days,
        and over the rows for a partial first or last day (each day comes from one of them
        only, so day buckets never need merging; WHOLE's up to three rows a group do)."""
        start, end = starting_at.astimezone(UTC), ending_at.astimezone(UTC)
        whole = start if width == WHOLE else None
        parts: list[tuple[datetime, datetime, bool]] = [(start, end, False)]
        if width in ("1d", WHOLE):
            first, last = _midnight(start, up=True), _midnight(end, up=False)
            if first < last:
                parts = [(start, first, False), (first, last, True), (last, end, False)]

        def fetch() -> list[Totals]:
            found: list[Totals] = []
            with self._engine.connect() as conn:
                for low, high, daily in parts:
                    if low < high:
                        query = (
                            self._daily(organization_id, low, high, dimensions, whole=whole)
                            if daily
                            else (self._rows(organization_id, low, high, width, dimensions))
                        )
                        found += _totals(conn.execute(query).all(), len(dimensions), whole)
            return found

        return await asyncio.to_thread(fetch)

    def _rows(
        self,
        organization_id: str,
        start: datetime,
        end: datetime,
        width: str,
        dimensions: Sequence[str],
    ) -> Select[Any]:
        buckets = [] if width == WHOLE else [self._bucket(width).label("bucket")]
        groups = [_dimension(name).label(f"d{i}") for i, name in enumerate(dimensions)]
        sums = [func.count().label("requests")]
        sums += [func.sum(ledger.c[name]).label(name) for name in SUMMED]
        return (
            select(*buckets, *groups, *sums)
            .where(ledger.c.organization_id == organization_id)
            .where(ledger.c.completed_at >= start)
            .where(ledger.c.completed_at < end)
            .group_by(*buckets, *groups)
        )

    def _daily(
        self,
        organization_id: str,
        start: datetime,
        end: datetime,
        dimensions: Sequence[str],
        *,
        whole: datetime | None,
    ) -> Select[Any]:
        day = ledger_daily.c.day
        buckets = [] if whole else [day]
        groups = [_daily_dimension(name).label(f"d{i}") for i, name in enumerate(dimensions)]
        sums = [func.sum(ledger_daily.c[name]).label(name) for name in DAILY_SUMS]
        return (
            select(*buckets, *groups, *sums)
            .where(ledger_daily.c.organization_id == organization_id)
            .where(day >= _day(start))
            .where(day < _day(end))
            .group_by(*buckets, *groups)
        )

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
