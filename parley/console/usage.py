"""The usage and cost page's figures, from the reports service's grouped sums: the series over
time, the breakdowns, and the cache's effect priced from the price book."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from parley.domain.pricing import PER_MTOK, PICO, PriceBook
from parley.domain.reports import WIDTHS, Totals, snap

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
BUCKETS = ("1h", "1d")
BREAKDOWNS = ["model", "workspace_id", "api_key_id", "surface", "region", "service_tier"]


@dataclass
class Sums:
    """Token counts and cost of some requests."""

    requests: int = 0
    uncached: int = 0
    write_5m: int = 0
    write_1h: int = 0
    read: int = 0
    output: int = 0
    picodollars: int = 0
    write_picodollars: int = 0
    read_picodollars: int = 0

    def add(self, row: Totals) -> None:
        self.requests += row.requests
        self.uncached += row.uncached_input_tokens
        self.write_5m += row.cache_write_5m_tokens
        self.write_1h += row.cache_write_1h_tokens
        self.read += row.cache_read_tokens
        self.output += row.output_tokens
        self.picodollars += row.cost_picodollars
        self.write_picodollars += row.cost_write_5m_picodollars + row.cost_write_1h_picodollars
        self.read_picodollars += row.cost_read_picodollars

    @property
    def writes(self) -> int:
        return self.write_5m + self.write_1h

    @property
    def input(self) -> int:
        return self.uncached + self.writes + self.read

    @property
    def cost(self) -> Decimal:
        return Decimal(self.picodollars) / PICO


@dataclass(frozen=True)
class Span:
    range: str
    bucket: str
    starting_at: datetime
    ending_at: datetime
    starts: list[datetime]


def span(range_name: str, bucket: str, now: datetime) -> Span:
    """Whole buckets up to the one holding now, as many as the range holds (two at least)."""
    range_name = range_name if range_name in RANGES else "7d"
    bucket = bucket if bucket in BUCKETS else ("1h" if range_name == "24h" else "1d")
    width = WIDTHS[bucket]
    end = snap(now, bucket) + width
    start = end - max(2, RANGES[range_name] // width) * width
    starts = []
    moment = start
    while moment < end:
        starts.append(moment)
        moment += width
    return Span(range_name, bucket, start, end, starts)


@dataclass(frozen=True)
class Breakdown:
    title: str
    rows: list[tuple[str, str, Sums]]  # name, id (or ""), sums: biggest cost first


@dataclass
class UsageView:
    span: Span
    series: list[Sums]
    total: Sums = field(default_factory=Sums)
    breakdowns: list[Breakdown] = field(default_factory=list)
    saved: Decimal = Decimal(0)


def _grouped(
    rows: Iterable[Totals], key: Callable[[Totals], tuple[str, str]]
) -> list[tuple[str, str, Sums]]:
    sums: dict[tuple[str, str], Sums] = {}
    for row in rows:
        sums.setdefault(key(row), Sums()).add(row)
    ranked = sorted(sums.items(), key=lambda item: (-item[1].picodollars, item[0]))
    return [(name, ident, total) for (name, ident), total in ranked]


def saved_by_cache(by_model: Sequence[tuple[str, str, Sums]], prices: PriceBook) -> Decimal:
    """What cache reads and writes would have cost as plain input, less what they cost: the
    money caching saved (negative where writes were not read back enough), at base prices."""
    saved = Decimal(0)
    for model, _id, sums in by_model:
        plain = prices.price_of(model).input * (sums.read + sums.writes) / PER_MTOK
        saved += plain - Decimal(sums.read_picodollars + sums.write_picodollars) / PICO
    return saved


def usage_view(
    window: Span,
    by_time: Sequence[Totals],
    by_dimension: Sequence[Totals],
    names: dict[str, str],
    prices: PriceBook,
) -> UsageView:
    """`by_time`: no grouping, `window.bucket` buckets; `by_dimension`: grouped by BREAKDOWNS
    (a group may come in several rows: they are added up).
    `names`: workspace and key ids to their names."""
    index = {start: i for i, start in enumerate(window.starts)}
    series = [Sums() for _ in window.starts]
    view = UsageView(window, series)
    for row in by_time:
        if row.bucket in index:
            series[index[row.bucket]].add(row)
            view.total.add(row)

    def named(position: int) -> Callable[[Totals], tuple[str, str]]:
        """A workspace's or key's name with its id; other values as they are."""

        def key(row: Totals) -> tuple[str, str]:
            value = row.group[position] or "none"
            return (names[value], value) if value in names else (value, "")

        return key

    at = BREAKDOWNS.index
    by_model = _grouped(by_dimension, named(at("model")))
    view.breakdowns = [
        Breakdown("By model", by_model),
        Breakdown("By workspace", _grouped(by_dimension, named(at("workspace_id")))),
        Breakdown("By API key", _grouped(by_dimension, named(at("api_key_id")))),
        Breakdown(
            "By surface and region",
            _grouped(
                by_dimension, lambda r: (f"{r.group[at('surface')]} · {r.group[at('region')]}", "")
            ),
        ),
        Breakdown("By service tier", _grouped(by_dimension, named(at("service_tier")))),
    ]
    view.saved = saved_by_cache(by_model, prices)
    return view
