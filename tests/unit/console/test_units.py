"""How the console prints numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parley.console.units import seconds, share, tokens, usd


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0"), (9_999, "9,999"), (12_345, "12.3k"), (4_560_000, "4.56M"), (1_200_000_000, "1.2B")],
)
def test_tokens(count: int, shown: str) -> None:
    assert tokens(count) == shown


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "$0"),
        ("1234.567", "$1,234.57"),
        ("0.012345", "$0.01235"),
        ("0.5", "$0.50"),
        ("0.125", "$0.125"),
        ("0.0000168", "$0.0000168"),
        ("-2.5", "-$2.50"),
    ],
)
def test_usd(amount: str, shown: str) -> None:
    assert usd(Decimal(amount)) == shown


def test_share_and_seconds() -> None:
    assert share(1, 3) == "33.3%"
    assert share(0, 0) == "n/a"
    assert seconds(299.6) == "5 min 00 s"
    assert seconds(42) == "42 s"
