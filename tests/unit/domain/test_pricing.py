"""The price book, to the picodollar: each multiplier of the hosted price sheet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parley.domain.pricing import ModelPrice, PriceBook, PriceOverride, TokenCounts

PRICES = {
    "m": ModelPrice(Decimal("3"), Decimal("15")),
    "long": ModelPrice(Decimal("3"), Decimal("15"), long_context_threshold=200_000),
    "cheap-reads": ModelPrice(Decimal("10"), Decimal("50"), cache_read=Decimal("0.025")),
    "haiku": ModelPrice(Decimal("0.10"), Decimal("0.50")),
}
BOOK = PriceBook(PRICES)


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


@pytest.mark.parametrize(
    ("surface", "region", "geo"),
    [
        ("claude_api", "global", "us"),  # inference_geo: "us"
        ("vertex", "us", None),  # a multi-region endpoint
        ("vertex", "europe-west1", None),  # a regional endpoint
        ("vertex", "europe-west1", "eu"),  # the same, its geo known from the regions
        ("bedrock", "us-east-1", None),  # in-region
        ("bedrock", "us-east-1", "us"),  # a `us.` inference profile
    ],
)
def test_a_request_held_to_a_region_or_geo_costs_ten_percent_more(
    surface: str, region: str, geo: str | None
) -> None:
    counts = TokenCounts(uncached=1_000_000, output=1_000_000)
    assert BOOK.cost("m", counts, surface=surface, region=region, geo=geo).total == Decimal("19.8")


@pytest.mark.parametrize(
    ("surface", "region", "geo"),
    [
        ("claude_api", "global", None),
        ("claude_api", "global", "global"),
        ("vertex", "global", None),
        ("bedrock", "us-east-1", "global"),  # a `global.` inference profile
    ],
)
def test_a_global_request_costs_the_base_price(surface: str, region: str, geo: str | None) -> None:
    counts = TokenCounts(uncached=1_000_000, output=1_000_000)
    assert BOOK.cost("m", counts, surface=surface, region=region, geo=geo).total == Decimal("18")


@pytest.mark.parametrize(
    "counts",
    [
        TokenCounts(uncached=1234, output=321),
        TokenCounts(uncached=7, write_5m=2048, write_1h=1024, read=4096, output=99),
        TokenCounts(read=1_000_003),
    ],
)
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("model", ["m", "haiku", "cheap-reads"])
def test_regional_costs_exactly_eleven_tenths_of_global_to_the_picodollar(
    counts: TokenCounts, batch: bool, model: str
) -> None:
    plain = BOOK.cost(model, counts, surface="vertex", region="global", batch=batch)
    regional = BOOK.cost(model, counts, surface="vertex", region="europe-west1", batch=batch)
    assert regional.total == plain.total * Decimal("1.1")
    assert regional.picodollars * 10 == plain.picodollars * 11
    for token_type in plain.parts:
        assert regional.part_picodollars(token_type) * 10 == plain.part_picodollars(token_type) * 11


def test_multipliers_stack() -> None:
    counts = TokenCounts(read=1_000_000)
    assert BOOK.cost("m", counts, geo="us", batch=True).total == Decimal("0.165")


OVERRIDDEN = PriceBook(
    PRICES,
    overrides=[
        PriceOverride(model="haiku", multiplier=Decimal("1")),
        PriceOverride(surface="vertex", region="eu", multiplier=Decimal("1.2")),
        PriceOverride(surface="vertex", region="europe-west4", multiplier=Decimal("1.3")),
        PriceOverride(surface="bedrock", region="global", multiplier=Decimal("1.05")),
        PriceOverride(surface="bedrock", multiplier=Decimal("1.15")),
        PriceOverride(surface="bedrock", multiplier=Decimal("1.25")),
    ],
)


@pytest.mark.parametrize(
    ("model", "surface", "region", "geo", "multiplier"),
    [
        ("haiku", "vertex", "europe-west4", "eu", "1"),  # an exact model beats the rest
        ("haiku", "claude_api", "global", None, "1"),  # also on the global endpoint
        ("m", "vertex", "eu", None, "1.2"),  # the eu multi-region
        ("m", "vertex", "europe-west1", "eu", "1.2"),  # a region of the eu geo
        ("m", "vertex", "europe-west4", "eu", "1.3"),  # a named region beats its geo
        ("m", "vertex", "europe-west1", None, "1.1"),  # its geo unknown: the default
        ("m", "vertex", "global", None, "1"),  # "*" and geos never match the global endpoint
        ("m", "bedrock", "us-east-1", "global", "1.05"),  # "global" matches only it
        ("m", "bedrock", "us-east-1", None, "1.25"),  # the later of equals
        ("m", "claude_api", "global", "us", "1.1"),  # another surface: the default
    ],
)
def test_the_most_specific_override_sets_the_location_multiplier(
    model: str, surface: str, region: str, geo: str | None, multiplier: str
) -> None:
    assert OVERRIDDEN.location(model, surface, region, geo) == Decimal(multiplier)


def test_an_override_stacks_with_cache_and_batch() -> None:
    counts = TokenCounts(read=1_000_000, output=1_000_000)
    cost = OVERRIDDEN.cost("m", counts, surface="vertex", region="eu", batch=True)
    assert cost.total == Decimal("9.18")  # (0.3 + 15) x 1.2 x 0.5


def test_costs_are_whole_picodollars() -> None:
    cost = BOOK.cost("m", TokenCounts(uncached=7, read=3, output=1), geo="us", batch=True)
    assert cost.total == Decimal("0.000020295")
    assert cost.picodollars == 20_295_000


def test_an_unpriced_model_costs_nothing() -> None:
    assert BOOK.cost("unknown", TokenCounts(uncached=10, output=10)).total == 0
