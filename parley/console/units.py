"""Values as the console shows them: tokens with k/M, money in dollars, durations, shares, and
names made safe for its CSV."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def tokens(count: int) -> str:
    """1,234 below ten thousand; 12.3k; 4.56M; 1.2B."""
    if abs(count) < 10_000:
        return f"{count:,}"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(count) >= size:
            value = count / size
            return f"{value:.3g}{suffix}" if value < 1000 else f"{value:,.0f}{suffix}"
    return f"{count:,}"  # pragma: no cover - the loop always returns


def usd(amount: Decimal) -> str:
    """Cents above a dollar, four significant places below ($0.0123), $0 for nothing."""
    if amount == 0:
        return "$0"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    places = Decimal(1).scaleb(min(-2, amount.adjusted() - 3))
    shown = amount.quantize(places, ROUND_HALF_UP).normalize()
    if shown.as_tuple().exponent > -2:  # type: ignore[operator]
        shown = shown.quantize(Decimal("0.01"))
    return f"{sign}${shown:f}"


def share(part: int, whole: int) -> str:
    return "n/a" if whole == 0 else f"{100 * part / whole:.1f}%"


def seconds(value: float) -> str:
    whole = max(0, round(value))
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """A name (chosen by a user) for a CSV cell: one that a spreadsheet would run as a
    formula is kept as text with a leading quote."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
