"""Usage and cost reports from ledger entries, shaped like the hosted Admin API's: time buckets
of 1m, 1h or 1d, optional grouping by dimensions, and paging by bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.errors import InvalidRequestError

Width = Literal["1m", "1h", "1d"]
WIDTHS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
# One bucket over the whole asked range, starting at its start: for views that only total
# (the console's breakdowns), so the store returns one row per group instead of one a day.
WHOLE = "all"
# (default, maximum) buckets per page, as hosted
PAGE_LIMITS: dict[str, tuple[int, int]] = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
USAGE_GROUPS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "inference_geo",
    "surface",
    "region",
)
COST_GROUPS = ("workspace_id", "description", "surface", "region")
TOKEN_LABELS = {
    "uncached_input_tokens": ("Input Tokens", "cost_uncached_picodollars"),
    "cache_creation.ephemeral_5m_input_tokens": ("Cache Write 5m", "cost_write_5m_picodollars"),
    "cache_creation.ephemeral_1h_input_tokens": ("Cache Write 1h", "cost_write_1h_picodollars"),
    "cache_read_input_tokens": ("Cache Read", "cost_read_picodollars"),
    "output_tokens": ("Output Tokens", "cost_output_picodollars"),
}


def snap(moment: datetime, width: str) -> datetime:
    moment = moment.astimezone(UTC)
    if width == "1d":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if width == "1h":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """The buckets of one page, and where the next page starts (None: no more)."""

    starts: list[datetime]
    width: timedelta
    next_page: datetime | None


def window(
    starting_at: datetime, ending_at: datetime | None, width: str, limit: int | None
) -> Window:
    if width not in WIDTHS:
        raise InvalidRequestError(f"bucket_width: must be one of {', '.join(WIDTHS)}")
    default, maximum = PAGE_LIMITS[width]
    count = default if limit is None else limit
    if not 1 <= count <= maximum:
        raise InvalidRequestError(f"limit: must be between 1 and {maximum} for {width} buckets")
    step = WIDTHS[width]
    first = snap(starting_at, width)
    end = ending_at.astimezone(UTC) if ending_at else first + count * step
    if end <= first:
        raise InvalidRequestError("ending_at: must be after starting_at")
    starts: list[datetime] = []
    moment = first
    while moment < end and len(starts) < count:
        starts.append(moment)
        moment += step
    return Window(starts, step, moment if moment < end else None)


@dataclass(frozen=True)
class Totals:
    """The ledger's sums for one group of one bucket: what the store's grouped query returns.
    `group` holds the values of the asked dimensions, in the order asked."""

    bucket: datetime
    group: tuple[str | None, ...]
    requests: int
    uncached_input_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_picodollars: int
    cost_uncached_picodollars: int
    cost_write_5m_picodollars: int
    cost_write_1h_picodollars: int
    cost_read_picodollars: int
    cost_output_picodollars: int


SUMMED = [n for n in Totals.__dataclass_fields__ if n not in ("bucket", "group", "requests")]


def dimension(entry: LedgerEntry, name: str) -> str | None:
    """`inference_geo` is the geo the request was held to (`not_available` where no geo is
    known); the other dimensions are the ledger's columns of the same name."""
    if name == "inference_geo":
        return entry.geo or "not_available"
    value: str | None = getattr(entry, name)
    return value


def aggregate(
    entries: Sequence[LedgerEntry], width: str, dimensions: Sequence[str]
) -> list[Totals]:
    """The store's grouped sums, computed over entries in memory: the specification its SQL is
    tested against."""
    sums: dict[tuple[datetime, tuple[str | None, ...]], list[int]] = {}
    for entry in entries:
        key = (snap(entry.completed_at, width), tuple(dimension(entry, n) for n in dimensions))
        values = sums.setdefault(key, [0] * (1 + len(SUMMED)))
        values[0] += 1
        for i, name in enumerate(SUMMED, start=1):
            values[i] += getattr(entry, name)
    return [Totals(bucket, group, *values) for (bucket, group), values in sums.items()]


def usage_dimensions(group_by: Sequence[str]) -> list[str]:
    """The dimensions the store groups by for a usage report."""
    _check_groups(group_by, USAGE_GROUPS)
    return list(group_by)


def cost_dimensions(group_by: Sequence[str]) -> list[str]:
    """The dimensions the store groups by for a cost report: `description` splits by model,
    service tier and geo (and token type, which needs no grouping: each sum has its column)."""
    _check_groups(group_by, COST_GROUPS)
    dimensions = [name for name in ("workspace_id", "surface", "region") if name in group_by]
    if "description" in group_by:
        dimensions += ["model", "service_tier", "inference_geo"]
    return dimensions


def _bucketed(totals: Sequence[Totals], win: Window) -> list[tuple[datetime, list[Totals]]]:
    buckets: list[tuple[datetime, list[Totals]]] = [(s, []) for s in win.starts]
    index = {start: i for i, start in enumerate(win.starts)}
    for row in totals:
        position = index.get(row.bucket)
        if position is not None:
            buckets[position][1].append(row)
    return buckets


def _check_groups(group_by: Sequence[str], allowed: Sequence[str]) -> None:
    for name in group_by:
        if name not in allowed:
            raise InvalidRequestError(f"group_by: '{name}' is not one of {', '.join(allowed)}")


def usage_report(
    totals: Sequence[Totals], win: Window, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """`data` of the usage report from totals grouped by `usage_dimensions(group_by)`: per
    bucket, one result per group (none if empty)."""
    data = []
    for start, members in _bucketed(totals, win):
        results = []
        for row in sorted(members, key=lambda row: str(row.group)):
            result: dict[str, Any] = {
                "uncached_input_tokens": row.uncached_input_tokens,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": row.cache_write_5m_tokens,
                    "ephemeral_1h_input_tokens": row.cache_write_1h_tokens,
                },
                "cache_read_input_tokens": row.cache_read_tokens,
                "output_tokens": row.output_tokens,
                "server_tool_use": {"web_search_requests": 0},
            }
            for name in USAGE_GROUPS:
                result[name] = row.group[group_by.index(name)] if name in group_by else None
            results.append(result)
        data.append(_bucket(start, win.width, results))
    return data


def cost_report(
    totals: Sequence[Totals], win: Window, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """`data` of the cost report from totals grouped by `cost_dimensions(group_by)`; `amount`
    is a decimal string in cents, as hosted."""
    dimensions = [name for name in ("workspace_id", "surface", "region") if name in group_by]
    described = "description" in group_by
    data = []
    for start, members in _bucketed(totals, win):
        amounts: dict[tuple[Any, ...], int] = {}
        for row in members:
            group = row.group[: len(dimensions)]
            if described:
                model, tier, held = row.group[len(dimensions) :]
                for token_type, (_label, column) in TOKEN_LABELS.items():
                    split = (*group, model, token_type, tier, held)
                    amounts[split] = getattr(row, column)
            else:
                amounts[group] = row.cost_picodollars
        results = []
        for key, picodollars in sorted(amounts.items(), key=lambda item: str(item[0])):
            grouped = dict(zip(dimensions, key, strict=False))
            result: dict[str, Any] = {
                "currency": "USD",
                "amount": str(Decimal(picodollars) * 100 / PICO),
                "workspace_id": grouped.get("workspace_id"),
                "description": None,
                "surface": grouped.get("surface"),
                "region": grouped.get("region"),
            }
            if described:
                model, token_type, tier, geo = key[len(dimensions) :]
                result |= {
                    "description": f"{model} Usage - {TOKEN_LABELS[token_type][0]}",
                    "cost_type": "tokens",
                    "model": model,
                    "token_type": token_type,
                    "service_tier": tier,
                    "context_window": None,
                    "inference_geo": geo,
                }
            results.append(result)
        data.append(_bucket(start, win.width, results))
    return data


def _bucket(start: datetime, width: timedelta, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"starting_at": rfc3339(start), "ending_at": rfc3339(start + width), "results": results}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
