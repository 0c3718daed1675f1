"""The price book, to the picodollar: each multiplier of the hosted price sheet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parley.domain.pricing import ModelPrice, PriceBook, TokenCounts

BOOK = PriceBook(
    {
        "m": ModelPrice(Decimal("3"), Decimal("15")),
        "long": ModelPrice(Decimal("3"), Decimal("15"), long_context_threshold=200_000),
        "cheap-reads": ModelPrice(Decimal("10"), Decimal("50"), cache_read=Decimal("0.025")),
    },
    regions={("claude_api", "us"): Decimal("1.1"), ("vertex", "europe-west1"): Decimal("1.1")},
)


@pytest.mark.parametrize(
    ("counts", "usd"),
    [
        (TokenCounts(uncached=1_000_000), "3"),
        (TokenCounts(output=1_000_000), "15"),
        (TokenCounts(write_5m=1_000_000), "3.75"),
        (TokenCounts(write_1h=1_000_000), "6"),
        (TokenCounts(read=1_000_000), "0.3"),
        (TokenCounts(uncached=1234, write_5m=10_000, read=50_000, output=321), "0.061017"),
    ],
)
def test_each_token_type_has_its_price(counts: TokenCounts, usd: str) -> None:
    assert BOOK.cost("m", counts).total == Decimal(usd)


def test_batch_halves_everything() -> None:
    counts = TokenCounts(uncached=1_000_000, write_1h=1_000_000, output=1_000_000)
    assert BOOK.cost("m", counts, batch=True).total == Decimal("12")


def test_a_model_may_price_reads_lower() -> None:
    assert BOOK.cost("cheap-reads", TokenCounts(read=1_000_000)).total == Decimal("0.25")


def test_above_the_long_context_threshold_the_whole_request_costs_more() -> None:
    under = TokenCounts(uncached=100_000, read=100_000, output=1_000)
    over = TokenCounts(uncached=100_001, read=100_000, output=1_000)
    assert BOOK.cost("long", under).total == Decimal("0.345")
    assert BOOK.cost("long", over).total == Decimal("0.682506")  # 2x input, 1.5x output


def test_a_regional_endpoint_adds_its_multiplier() -> None:
    counts = TokenCounts(uncached=1_000_000, output=1_000_000)
    assert BOOK.cost("m", counts, region="us").total == Decimal("19.8")
    assert BOOK.cost("m", counts, surface="vertex", region="europe-west1").total == Decimal("19.8")
    assert BOOK.cost("m", counts, region="global").total == Decimal("18")


def test_multipliers_stack() -> None:
    counts = TokenCounts(read=1_000_000)
    assert BOOK.cost("m", counts, region="us", batch=True).total == Decimal("0.165")


def test_costs_are_whole_picodollars() -> None:
    cost = BOOK.cost("m", TokenCounts(uncached=7, read=3, output=1), region="us", batch=True)
    assert cost.total == Decimal("0.000020295")
    assert cost.picodollars == 20_295_000


def test_an_unpriced_model_costs_nothing() -> None:
    assert BOOK.cost("unknown", TokenCounts(uncached=10, output=10)).total == 0
