"""The usage page's figures: whole buckets up to now, and the money caching saved."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from parley.console.usage import Sums, saved_by_cache, span
from parley.domain.pricing import ModelPrice, PriceBook

NOW = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)


def test_the_last_24_hours_in_hours_end_with_the_current_hour() -> None:
    window = span("24h", "1h", NOW)
    assert len(window.starts) == 24
    assert window.starts[-1] == datetime(2026, 11, 30, 14, tzinfo=UTC)
    assert window.ending_at == datetime(2026, 11, 30, 15, tzinfo=UTC)


def test_the_last_24_hours_in_days_show_yesterday_and_today() -> None:
    window = span("24h", "1d", NOW)
    assert window.starts == [datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)]


def test_unknown_choices_fall_back_to_seven_days_of_days() -> None:
    window = span("1y", "5m", NOW)
    assert (window.range, window.bucket, len(window.starts)) == ("7d", "1d", 7)


def test_cache_savings_price_reads_and_writes_as_plain_input() -> None:
    prices = PriceBook({"m": ModelPrice(input=Decimal(3), output=Decimal(15))})
    # 1M tokens read at 0.1x ($0.30) and 1M written at 1.25x ($3.75): $6 as plain input
    sums = Sums(
        read=10**6, write_5m=10**6, read_picodollars=3 * 10**11, write_picodollars=375 * 10**10
    )
    assert saved_by_cache([("m", "", sums)], prices) == Decimal("1.95")
