"""The reports' grouped sums come from the database (grouped queries over the rows, and over the
daily sums the store keeps as it records them); on SQLite and PostgreSQL alike they equal the
Python aggregation of the same ledger rows, to the picodollar."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from parley.domain.metering import LedgerEntry
from parley.domain.reports import (
    SUMMED,
    USAGE_GROUPS,
    WHOLE,
    Totals,
    aggregate,
    cost_dimensions,
)
from parley.store.db import connect
from parley.store.ledger import LedgerStore
from tests.factories import ledger_entry
from tests.helpers import blocking
from tests.postgres import postgres_schema

T0 = datetime(2026, 11, 3, tzinfo=UTC)
END = T0 + timedelta(days=3)


def random_entries(count: int, seed: int = 15) -> list[LedgerEntry]:
    """Rows over three days with every dimension varied, some unknown, and costs past 2**32."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        costs = [rng.randrange(0, 10**12) for _ in range(5)]
        completed = T0 + timedelta(seconds=rng.randrange(0, 3 * 86400), microseconds=i)
        rows.append(
            ledger_entry(
                request_id=f"req_{i}",
                organization_id=rng.choice(["org-a", "org-a", "org-b"]),
                workspace_id=rng.choice(["w1", "w2", None]),
                api_key_id=rng.choice(["k1", "k2", "k3"]),
                model=rng.choice(["m-small", "m-large"]),
                surface=rng.choice(["claude_api", "vertex", "bedrock"]),
                region=rng.choice(["global", "us", "europe-west1"]),
                geo=rng.choice(["global", "us", "eu", None]),
                service_tier=rng.choice(["standard", "batch"]),
                uncached_input_tokens=rng.randrange(0, 5000),
                cache_write_5m_tokens=rng.randrange(0, 5000),
                cache_write_1h_tokens=rng.randrange(0, 5000),
                cache_read_tokens=rng.randrange(0, 5000),
                output_tokens=rng.randrange(0, 5000),
                cost_picodollars=sum(costs),
                cost_uncached_picodollars=costs[0],
                cost_write_5m_picodollars=costs[1],
                cost_write_1h_picodollars=costs[2],
                cost_read_picodollars=costs[3],
                cost_output_picodollars=costs[4],
                started_at=completed - timedelta(seconds=1),
                completed_at=completed,
            )
        )
    return rows


ROWS = random_entries(400)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LedgerStore]:
    """A ledger holding ROWS, on each database."""
    if request.param == "sqlite":
        yield from _filled(f"sqlite:///{tmp_path_factory.mktemp('db') / 'parley.db'}")
        return
    with postgres_schema() as url:
        yield from _filled(url)


def _filled(url: str) -> Iterator[LedgerStore]:
    engine = connect(url)
    store = LedgerStore(engine)
    blocking(_record_all(store))
    yield store
    engine.dispose()


async def _record_all(store: LedgerStore) -> None:
    for row in ROWS:
        assert await store.record(row)
    assert not await store.record(ROWS[0])  # recorded twice: counted once


def expected(width: str, dimensions: list[str], start: datetime, end: datetime) -> list[Totals]:
    kept = [r for r in ROWS if r.organization_id == "org-a" and start <= r.completed_at < end]
    return sorted(aggregate(kept, width, dimensions), key=repr)


GROUPINGS = [list(c) for n in range(3) for c in combinations(USAGE_GROUPS, n)]


@pytest.mark.parametrize("dimensions", GROUPINGS, ids=lambda d: "+".join(d) or "none")
async def test_daily_totals_equal_the_python_aggregation(
    store: LedgerStore, dimensions: list[str]
) -> None:
    found = await store.totals("org-a", T0, END, "1d", dimensions)
    assert sorted(found, key=repr) == expected("1d", dimensions, T0, END)


@pytest.mark.parametrize("width", ["1m", "1h", "1d"])
async def test_every_bucket_width_snaps_like_the_python_aggregation(
    store: LedgerStore, width: str
) -> None:
    start, end = T0 + timedelta(hours=5, minutes=30), T0 + timedelta(hours=29)
    found = await store.totals("org-a", start, end, width, ["model"])
    assert sorted(found, key=repr) == expected(width, ["model"], start, end)


async def test_cost_description_totals_equal_the_python_aggregation(store: LedgerStore) -> None:
    dimensions = cost_dimensions(["workspace_id", "description"])
    found = await store.totals("org-a", T0, END, "1d", dimensions)
    assert sorted(found, key=repr) == expected("1d", dimensions, T0, END)


@pytest.mark.parametrize("dimensions", [[], ["api_key_id", "inference_geo"], ["workspace_id"]])
async def test_days_cut_at_both_ends_equal_the_python_aggregation(
    store: LedgerStore, dimensions: list[str]
) -> None:
    start, end = T0 + timedelta(hours=5, minutes=30), END - timedelta(hours=3, minutes=20)
    found = await store.totals("org-a", start, end, "1d", dimensions)
    assert sorted(found, key=repr) == expected("1d", dimensions, start, end)


def by_group(totals: list[Totals]) -> dict[tuple[str | None, ...], list[int]]:
    """Each group's sums, over however many buckets or rows it comes in."""
    folded: dict[tuple[str | None, ...], list[int]] = {}
    for row in totals:
        values = [row.requests] + [getattr(row, name) for name in SUMMED]
        folded[row.group] = [
            a + b for a, b in zip(folded.get(row.group, [0] * len(values)), values, strict=True)
        ]
    return folded


@pytest.mark.parametrize("dimensions", [[], ["model", "api_key_id"]])
async def test_one_bucket_over_a_range_holds_each_groups_sums(
    store: LedgerStore, dimensions: list[str]
) -> None:
    start, end = T0 + timedelta(hours=5, minutes=30), END - timedelta(hours=3, minutes=20)
    found = await store.totals("org-a", start, end, WHOLE, dimensions)
    assert {row.bucket for row in found} == {start}
    assert by_group(found) == by_group(expected("1d", dimensions, start, end))


async def test_money_sums_to_the_picodollar(store: LedgerStore) -> None:
    found = await store.totals("org-a", T0, END, "1d", [])
    billed = sum(r.cost_picodollars for r in ROWS if r.organization_id == "org-a")
    assert billed > 2**63 // 10**6 and sum(t.cost_picodollars for t in found) == billed
