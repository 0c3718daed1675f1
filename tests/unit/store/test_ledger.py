"""The ledger on both databases: SQLite in a temporary directory, and the real PostgreSQL at
127.0.0.1:5432 (database `test`) in a schema of its own that the test drops afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from parley.domain.metering import LedgerEntry
from parley.store.db import connect
from parley.store.ledger import LedgerStore
from parley.store.tables import ledger, spend_totals
from tests.factories import ledger_entry
from tests.postgres import postgres_schema

T0 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture()
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = connect(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def store(engine: sa.Engine) -> LedgerStore:
    return LedgerStore(engine)


def entry(request_id: str, **changes: object) -> LedgerEntry:
    values: dict[str, object] = {
        "request_id": request_id,
        "organization_id": "org-a",
        "uncached_input_tokens": 10,
        "cache_write_5m_tokens": 600,
        "output_tokens": 5,
        "cost_picodollars": 1_000_000,
        "cost_uncached_picodollars": 100_000,
        "cost_write_5m_picodollars": 600_000,
        "cost_output_picodollars": 300_000,
        "started_at": T0,
        "completed_at": T0 + timedelta(seconds=1),
    }
    return ledger_entry(**(values | changes))


async def test_an_entry_is_written_once_per_request_id(store: LedgerStore) -> None:
    assert await store.record(entry("req_1")) is True
    assert await store.record(entry("req_1", output_tokens=99)) is False
    (stored,) = await store.read("org-a", T0, T0 + timedelta(hours=1))
    assert stored == entry("req_1")


async def test_entries_are_read_by_organization_and_time(store: LedgerStore) -> None:
    await store.record(entry("req_1"))
    await store.record(entry("req_2", organization_id="org-b"))
    await store.record(entry("req_3", completed_at=T0 + timedelta(hours=2)))
    found = await store.read("org-a", T0, T0 + timedelta(hours=1))
    assert [e.request_id for e in found] == ["req_1"]


async def test_month_spend_counts_this_month_only(store: LedgerStore) -> None:
    await store.record(entry("req_1", cost_picodollars=2_500_000_000_000))
    await store.record(entry("req_2", cost_picodollars=500_000_000_000))
    await store.record(
        entry("req_3", cost_picodollars=7_000_000_000_000, completed_at=T0 - timedelta(days=5))
    )
    spend = await store.month_spend("org-a", (T0 + timedelta(days=1)).timestamp())
    assert spend == Decimal(3)


async def test_a_request_recorded_twice_counts_once_in_the_month(store: LedgerStore) -> None:
    await store.record(entry("req_1", cost_picodollars=2_000_000_000_000))
    await store.record(entry("req_1", cost_picodollars=2_000_000_000_000))
    assert await store.month_spend("org-a", T0.timestamp()) == Decimal(2)


async def test_month_spend_reads_the_running_total_not_the_rows(
    store: LedgerStore, engine: sa.Engine
) -> None:
    await store.record(entry("req_1", cost_picodollars=1_000_000_000_000))
    with engine.begin() as conn:  # a row the total never heard of, as written before 0006
        conn.execute(ledger.insert().values(asdict(entry("req_2", cost_picodollars=10**12))))
    assert await store.month_spend("org-a", T0.timestamp()) == Decimal(1)


async def test_reconciling_sets_this_months_totals_to_the_ledgers(
    store: LedgerStore, engine: sa.Engine
) -> None:
    await store.record(entry("req_1", cost_picodollars=1_000_000_000_000))
    await store.record(entry("req_2", organization_id="org-b", cost_picodollars=10**12))
    with engine.begin() as conn:
        conn.execute(ledger.insert().values(asdict(entry("req_3", cost_picodollars=2 * 10**12))))
        conn.execute(
            spend_totals.update()
            .where(spend_totals.c.organization_id == "org-b")
            .values(cost_picodollars=99)
        )
    await store.reconcile_spend((T0 + timedelta(days=1)).timestamp())
    assert await store.month_spend("org-a", T0.timestamp()) == Decimal(3)
    assert await store.month_spend("org-b", T0.timestamp()) == Decimal(1)


async def test_an_organization_without_spend_this_month_has_spent_nothing(
    store: LedgerStore,
) -> None:
    await store.record(entry("req_1", completed_at=T0 - timedelta(days=5)))
    await store.reconcile_spend(T0.timestamp())
    assert await store.month_spend("org-a", T0.timestamp()) == Decimal(0)


async def test_an_entry_keeps_its_surface_region_and_geo(store: LedgerStore) -> None:
    partner = entry("req_1", surface="bedrock", region="eu-west-3", geo="eu")
    await store.record(partner)
    await store.record(entry("req_2", surface="vertex", region="asia-east1", geo=None))
    found = await store.read("org-a", T0, T0 + timedelta(hours=1))
    assert [(e.surface, e.region, e.geo) for e in found] == [
        ("bedrock", "eu-west-3", "eu"),
        ("vertex", "asia-east1", None),
    ]
