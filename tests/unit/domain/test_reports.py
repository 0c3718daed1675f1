"""Reports from ledger entries: buckets, groups, and totals that always equal the ledger's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.domain.metering import LedgerEntry
from parley.domain.pricing import PICO
from parley.domain.reports import (
    COST_GROUPS,
    USAGE_GROUPS,
    WIDTHS,
    Window,
    aggregate,
    cost_dimensions,
    cost_report,
    usage_dimensions,
    usage_report,
    window,
)
from parley.errors import InvalidRequestError
from tests.factories import ledger_entry

T0 = datetime(2026, 11, 20, tzinfo=UTC)
BASE = ledger_entry(organization_id="org", workspace_id="w1", api_key_id="k1", model="a")


@st.composite
def entries(draw: st.DrawFn) -> LedgerEntry:
    parts = [draw(st.integers(0, 10**9)) for _ in range(5)]
    return replace(
        BASE,
        request_id=draw(st.uuids()).hex,
        workspace_id=draw(st.sampled_from(["w1", "w2", None])),
        api_key_id=draw(st.sampled_from(["k1", "k2"])),
        model=draw(st.sampled_from(["a", "b"])),
        surface=draw(st.sampled_from(["claude_api", "vertex", "bedrock"])),
        region=draw(st.sampled_from(["global", "us", "europe-west1"])),
        geo=draw(st.sampled_from(["global", "us", "eu", None])),
        service_tier=draw(st.sampled_from(["standard", "batch"])),
        uncached_input_tokens=draw(st.integers(0, 5000)),
        cache_write_5m_tokens=draw(st.integers(0, 5000)),
        cache_read_tokens=draw(st.integers(0, 5000)),
        output_tokens=draw(st.integers(0, 5000)),
        cost_picodollars=sum(parts),
        cost_uncached_picodollars=parts[0],
        cost_write_5m_picodollars=parts[1],
        cost_write_1h_picodollars=parts[2],
        cost_read_picodollars=parts[3],
        cost_output_picodollars=parts[4],
        completed_at=T0 + timedelta(hours=draw(st.integers(0, 6 * 24 - 1))),
    )


def usage(rows: list[LedgerEntry], win: Window, group_by: list[str]) -> list[dict[str, Any]]:
    """The usage report of `rows`, summed in Python as the store sums them in SQL."""
    width = next(name for name, step in WIDTHS.items() if step == win.width)
    return usage_report(aggregate(rows, width, usage_dimensions(group_by)), win, group_by)


def cost(rows: list[LedgerEntry], win: Window, group_by: list[str]) -> list[dict[str, Any]]:
    return cost_report(aggregate(rows, "1d", cost_dimensions(group_by)), win, group_by)


GROUPINGS = [list(c) for n in range(3) for c in combinations(USAGE_GROUPS, n)]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(entries(), max_size=30), group_by=st.sampled_from(GROUPINGS))
def test_usage_totals_equal_the_ledger_for_any_grouping(
    rows: list[LedgerEntry], group_by: list[str]
) -> None:
    data = usage(rows, window(T0, T0 + timedelta(days=7), "1d", None), group_by)
    results = [r for bucket in data for r in bucket["results"]]
    assert sum(r["uncached_input_tokens"] for r in results) == sum(
        e.uncached_input_tokens for e in rows
    )
    assert sum(r["cache_creation"]["ephemeral_5m_input_tokens"] for r in results) == sum(
        e.cache_write_5m_tokens for e in rows
    )
    assert sum(r["cache_read_input_tokens"] for r in results) == sum(
        e.cache_read_tokens for e in rows
    )
    assert sum(r["output_tokens"] for r in results) == sum(e.output_tokens for e in rows)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(entries(), max_size=30),
    group_by=st.sampled_from([list(c) for n in range(4) for c in combinations(COST_GROUPS, n)]),
)
def test_cost_totals_equal_the_ledger_for_any_grouping(
    rows: list[LedgerEntry], group_by: list[str]
) -> None:
    data = cost(rows, window(T0, T0 + timedelta(days=7), "1d", None), group_by)
    cents = sum(Decimal(r["amount"]) for bucket in data for r in bucket["results"])
    assert cents == Decimal(sum(e.cost_picodollars for e in rows)) * 100 / PICO


def test_entries_land_in_the_bucket_of_their_completion() -> None:
    rows = [replace(BASE, output_tokens=1, completed_at=T0 + timedelta(minutes=90))]
    data = usage(rows, window(T0, T0 + timedelta(hours=3), "1h", None), [])
    assert [(b["starting_at"], len(b["results"])) for b in data] == [
        ("2026-11-20T00:00:00Z", 0),
        ("2026-11-20T01:00:00Z", 1),
        ("2026-11-20T02:00:00Z", 0),
    ]


def test_ungrouped_dimensions_are_null_and_grouped_ones_named() -> None:
    data = usage([BASE], window(T0, T0 + timedelta(days=1), "1d", None), ["model"])
    (result,) = data[0]["results"]
    assert result["model"] == "a" and result["workspace_id"] is None


def test_pages_follow_one_another() -> None:
    first = window(T0, T0 + timedelta(days=10), "1d", 7)
    assert first.next_page == T0 + timedelta(days=7)
    assert window(first.next_page, T0 + timedelta(days=10), "1d", 7).next_page is None


@pytest.mark.parametrize(("width", "limit"), [("1d", 32), ("1h", 169), ("1m", 0), ("2h", 1)])
def test_bad_windows_are_refused(width: str, limit: int) -> None:
    with pytest.raises(InvalidRequestError):
        window(T0, None, width, limit)


DAY = window(T0, T0 + timedelta(days=1), "1d", None)
PARTNERS = [
    replace(
        BASE, request_id=str(output), surface=surface, region=region, geo=geo, output_tokens=output
    )
    for surface, region, geo, output in [
        ("claude_api", "global", "us", 1),
        ("vertex", "europe-west1", "eu", 2),
        ("vertex", "us", "us", 4),
        ("bedrock", "us-east-1", None, 8),
        ("vertex", "europe-west1", "eu", 16),
    ]
]


def test_usage_groups_by_surface_and_region() -> None:
    (bucket,) = usage(PARTNERS, DAY, ["surface", "region"])
    assert [(r["surface"], r["region"], r["output_tokens"]) for r in bucket["results"]] == [
        ("bedrock", "us-east-1", 8),
        ("claude_api", "global", 1),
        ("vertex", "europe-west1", 18),
        ("vertex", "us", 4),
    ]


def test_usage_groups_by_the_geo_each_request_was_held_to() -> None:
    (bucket,) = usage(PARTNERS, DAY, ["inference_geo"])
    assert [(r["inference_geo"], r["output_tokens"]) for r in bucket["results"]] == [
        ("eu", 18),
        ("not_available", 8),
        ("us", 5),
    ]


def test_cost_groups_by_surface_and_region_with_the_other_dimensions() -> None:
    rows = [replace(e, cost_picodollars=10**10 * e.output_tokens) for e in PARTNERS]
    (bucket,) = cost(rows, DAY, ["workspace_id", "surface", "region"])
    assert [
        (r["workspace_id"], r["surface"], r["region"], Decimal(r["amount"]))
        for r in bucket["results"]
    ] == [
        ("w1", "bedrock", "us-east-1", 8),
        ("w1", "claude_api", "global", 1),
        ("w1", "vertex", "europe-west1", 18),
        ("w1", "vertex", "us", 4),
    ]


def test_cost_by_description_keeps_the_surface_and_the_geo() -> None:
    rows = [replace(PARTNERS[1], cost_output_picodollars=10**10, cost_picodollars=10**10)]
    (bucket,) = cost(rows, DAY, ["surface", "description"])
    (output,) = [r for r in bucket["results"] if r["token_type"] == "output_tokens"]
    assert (output["surface"], output["region"], output["inference_geo"]) == ("vertex", None, "eu")
    assert Decimal(output["amount"]) == 1
