"""The ledger: one row per billed request, inserted once (idempotent by request id) and
committed before the response completes, together with the organization's running monthly
total that the spend cap reads. The same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    Table,
    case,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.domain.reports import SUMMED, WHOLE, WIDTHS, Totals, snap
from parley.store.tables import (
    ROLLUP_KEY,
    ROLLUP_SUMS,
    ledger,
    ledger_daily,
    ledger_hourly,
    spend_totals,
)

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


# SQLite keeps a datetime as text, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC: a bucket is a prefix
# (and of the rollups' bucket text too).
_PREFIX = {"1m": 16, "1h": 13, "1d": 10}
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


def _rollup_dimension(table: Table, name: str) -> ColumnElement[Any]:
    """The same dimension in a rollup table, where unknown values are ''."""
    if name == "inference_geo":
        return case((table.c.geo == "", literal("not_available")), else_=table.c.geo)
    if name in ("workspace_id", "api_key_id"):
        return func.nullif(table.c[name], "")
    return table.c[name]


# Each rollup: its table, the text of a moment's bucket in it, and how to find a bucket start.
_HOUR, _DAY = "%Y-%m-%d %H", "%Y-%m-%d"
_ROLLUPS = {"1h": (ledger_hourly, _HOUR), "1d": (ledger_daily, _DAY)}


def _text(moment: datetime, pattern: str) -> str:
    return moment.astimezone(UTC).strftime(pattern)


def _ceil(moment: datetime, width: str) -> datetime:
    start = snap(moment, width)
    return start if start == moment else start + WIDTHS[width]


Part = tuple[datetime, datetime, str | None]  # [low, high) and the rollup to read (None: rows)


def _parts(start: datetime, end: datetime, width: str) -> list[Part]:
    """[start, end) cut so that whole days come from the daily sums, whole hours from the
    hourly ones, and only the minutes at either end from the rows. The hour and day rollups
    serve buckets at least as wide as themselves (and WHOLE)."""
    if width == "1m":
        return [(start, end, None)]
    hours = (_ceil(start, "1h"), snap(end, "1h"))
    if hours[0] >= hours[1]:
        return [(start, end, None)]
    parts: list[Part] = [(start, hours[0], None)]
    days = (_ceil(start, "1d"), snap(end, "1d"))
    if width != "1h" and days[0] < days[1]:
        parts += [(hours[0], days[0], "1h"), (days[0], days[1], "1d"), (days[1], hours[1], "1h")]
    else:
        parts.append((hours[0], hours[1], "1h"))
    parts.append((hours[1], end, None))
    return [part for part in parts if part[0] < part[1]]


def _merged(totals: list[Totals]) -> list[Totals]:
    """One Totals per bucket and group, where several parts gave some."""
    merged: dict[tuple[datetime, tuple[str | None, ...]], Totals] = {}
    for row in totals:
        key = (row.bucket, row.group)
        if key in merged:
            before = merged[key]
            sums = [getattr(before, n) + getattr(row, n) for n in ("requests", *SUMMED)]
            merged[key] = Totals(row.bucket, row.group, *sums)
        else:
            merged[key] = row
    return list(merged.values())


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
                    for width in _ROLLUPS:
                        self._add_to_rollup(conn, entry, width)
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

    def _add_to_rollup(self, conn: Connection, entry: LedgerEntry, width: str) -> None:
        table, pattern = _ROLLUPS[width]
        values: dict[str, Any] = {name: getattr(entry, name, None) for name in ROLLUP_KEY}
        values |= {"bucket": _text(entry.completed_at, pattern), "requests": 1}
        for name in ("workspace_id", "api_key_id", "geo"):
            values[name] = values[name] or ""
        values |= {name: getattr(entry, name) for name in SUMMED}
        upsert = self._insert(table).values(**values)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=list(ROLLUP_KEY),
                set_={name: table.c[name] + upsert.excluded[name] for name in ROLLUP_SUMS},
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
        return func.substr(ledger.c.completed_at, 1, _PREFIX[width])

    async def totals(
        self,
        organization_id: str,
        starting_at: datetime,
        ending_at: datetime,
        width: str,
        dimensions: Sequence[str],
    ) -> list[Totals]:
        """The sums of every bucket of `width` and group of `dimensions`, from grouped
        queries: over the daily and hourly sums for the whole days and hours of the range, and
        over the rows for the minutes at either end (see `_parts`)."""
        start, end = starting_at.astimezone(UTC), ending_at.astimezone(UTC)
        whole = start if width == WHOLE else None

        def fetch() -> list[Totals]:
            found: list[Totals] = []
            with self._engine.connect() as conn:
                for low, high, rollup in _parts(start, end, width):
                    query = (
                        self._rows(organization_id, low, high, width, dimensions)
                        if rollup is None
                        else self._rollup(organization_id, low, high, rollup, width, dimensions)
                    )
                    found += _totals(conn.execute(query).all(), len(dimensions), whole)
            return _merged(found)

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

    def _rollup(
        self,
        organization_id: str,
        start: datetime,
        end: datetime,
        rollup: str,
        width: str,
        dimensions: Sequence[str],
    ) -> Select[Any]:
        table, pattern = _ROLLUPS[rollup]
        # a bucket is the rollup's own (grouped in the primary key's order, without a sort),
        # or a prefix of it: an hour's day
        buckets: list[ColumnElement[Any]] = []
        if width == rollup:
            buckets = [table.c.bucket]
        elif width != WHOLE:
            buckets = [func.substr(table.c.bucket, 1, _PREFIX[width])]
        groups = [_rollup_dimension(table, n).label(f"d{i}") for i, n in enumerate(dimensions)]
        sums = [func.sum(table.c[name]).label(name) for name in ROLLUP_SUMS]
        return (
            select(*buckets, *groups, *sums)
            .where(table.c.organization_id == organization_id)
            .where(table.c.bucket >= _text(start, pattern))
            .where(table.c.bucket < _text(end, pattern))
            .group_by(*buckets, *groups)
        )

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
