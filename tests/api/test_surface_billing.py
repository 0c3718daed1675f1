"""Prices per surface and region through the pipeline: the ledger row keeps the surface, the
region and the geo, and a request held to a region or geo costs exactly 1.1x the same tokens on
the global endpoint, to the picodollar, with cache writes, cache reads and batch. A FakeEngine
answers (one token per word), so both sides of each comparison have the same token counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.domain.billing import BillingContext
from parley.domain.metering import LedgerEntry
from parley.settings import PriceOverrideSource, Settings
from tests.factories import cached, manual
from tests.helpers import ADMIN_KEY, Pipeline, service_pipeline

GLOBAL = BillingContext(surface="vertex", region="global")
REGIONAL = BillingContext(surface="vertex", region="europe-west1")
RULES = 60  # a system prompt of about 600 words: over the packaged model's 512-token minimum


@pytest.fixture()
async def running(tmp_path: Path) -> AsyncIterator[Pipeline]:
    async for pipeline in service_pipeline(Settings(data_dir=tmp_path)):
        yield pipeline


async def billed(running: Pipeline, billing: BillingContext | None, **body: Any) -> LedgerEntry:
    admitted = await running.send(billing, **body)
    now = datetime.fromtimestamp(running.clock.now(), UTC)
    rows = await running.app.state.ledger.read(
        running.principal.organization_id, now - timedelta(days=1), now + timedelta(days=1)
    )
    (row,) = [r for r in rows if r.request_id == admitted.prepared.request_id]
    assert isinstance(row, LedgerEntry)
    return row


def counts(row: LedgerEntry) -> tuple[int, ...]:
    return (
        row.uncached_input_tokens,
        row.cache_write_5m_tokens,
        row.cache_read_tokens,
        row.output_tokens,
    )


def costs(row: LedgerEntry) -> tuple[int, ...]:
    return (
        row.cost_picodollars,
        row.cost_uncached_picodollars,
        row.cost_write_5m_picodollars,
        row.cost_read_picodollars,
        row.cost_output_picodollars,
    )


@pytest.mark.parametrize("tier", ["standard", "batch"])
async def test_regional_costs_exactly_eleven_tenths_of_global_with_cache_writes_and_reads(
    running: Pipeline, tier: Any
) -> None:
    rows = []
    for billing, edition in ((GLOBAL, "A"), (REGIONAL, "B")):
        billing = BillingContext(surface=billing.surface, region=billing.region, service_tier=tier)
        system = [cached(manual(f"{edition}-{tier}", RULES))]
        written = await billed(running, billing, system=system)
        read = await billed(running, billing, system=system)
        assert written.cache_write_5m_tokens > 500 and read.cache_read_tokens > 500
        rows.append((written, read))
    (global_write, global_read), (regional_write, regional_read) = rows
    for plain, dear in ((global_write, regional_write), (global_read, regional_read)):
        assert counts(plain) == counts(dear)
        assert plain.cost_picodollars > 0
        assert [c * 11 for c in costs(plain)] == [c * 10 for c in costs(dear)]


async def test_batch_halves_a_regional_request(running: Pipeline) -> None:
    standard = await billed(running, REGIONAL)
    batch = await billed(
        running, BillingContext(surface="vertex", region="europe-west1", service_tier="batch")
    )
    assert counts(standard) == counts(batch)
    assert standard.cost_picodollars == 2 * batch.cost_picodollars


@pytest.mark.parametrize(
    ("asked", "row"),
    [
        (("vertex", "europe-west1", None), ("vertex", "europe-west1", None)),
        (("vertex", "eu", None), ("vertex", "eu", "eu")),
        (("vertex", "global", None), ("vertex", "global", "global")),
        (("bedrock", "us-east-1", "us"), ("bedrock", "us-east-1", "us")),
        (("claude_api", "global", "us"), ("claude_api", "global", "us")),
        (None, ("claude_api", "global", "global")),
    ],
)
async def test_the_ledger_row_records_surface_region_and_geo(
    running: Pipeline, asked: tuple[Any, str, str | None] | None, row: tuple[str, str, str | None]
) -> None:
    billing = None
    if asked is not None:
        billing = BillingContext(surface=asked[0], region=asked[1], geo=asked[2])
    entry = await billed(running, billing)
    assert (entry.surface, entry.region, entry.geo) == row


async def test_an_override_prices_a_surface_and_region_of_its_own(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        price_overrides=[
            PriceOverrideSource(surface="vertex", region="eu", multiplier="1.25"),
            PriceOverrideSource(model="smollm2", surface="bedrock", multiplier="1"),
        ],
    )
    async for running in service_pipeline(settings):
        plain = await billed(running, GLOBAL)
        eu = await billed(running, BillingContext(surface="vertex", region="eu"))
        bedrock = await billed(running, BillingContext(surface="bedrock", region="us-east-1"))
        first_party = await billed(running, BillingContext(geo="us"))
    assert eu.cost_picodollars * 4 == plain.cost_picodollars * 5
    assert bedrock.cost_picodollars == plain.cost_picodollars
    assert first_party.cost_picodollars * 10 == plain.cost_picodollars * 11


async def test_the_reports_group_by_surface_and_region(running: Pipeline) -> None:
    await billed(running, None)
    await billed(running, REGIONAL)
    await billed(running, REGIONAL)
    await billed(running, BillingContext(surface="bedrock", region="us-east-1"))
    day = datetime.fromtimestamp(running.clock.now(), UTC).replace(hour=0, minute=0, second=0)
    params = {
        "starting_at": day.isoformat(),
        "limit": 1,
        "group_by[]": ["surface", "region", "workspace_id"],
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=running.app),
        base_url="http://parley",
        headers={"x-api-key": ADMIN_KEY},
    ) as admin:
        usage = await admin.get("/v1/organizations/usage_report/messages", params=params)
        cost = await admin.get("/v1/organizations/cost_report", params=params)
    assert usage.status_code == cost.status_code == 200
    grouped = [(r["surface"], r["region"], r["output_tokens"]) for r in results(usage)]
    assert grouped == [
        ("bedrock", "us-east-1", 2),
        ("claude_api", "global", 2),
        ("vertex", "europe-west1", 4),
    ]
    assert [(r["surface"], r["region"]) for r in results(cost)] == [g[:2] for g in grouped]


def results(response: httpx.Response) -> list[dict[str, Any]]:
    (bucket,) = response.json()["data"]
    found: list[dict[str, Any]] = bucket["results"]
    return found
