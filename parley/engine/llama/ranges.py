"""GBNF for JSON numbers inside `minimum`/`maximum` bounds, which llama-cpp-python's schema
converter leaves unenforced. Real clients put bounds on tool inputs (Claude Code's file offsets
and timeouts), so a forced call must keep them.

Every number the grammar allows lies within the bounds. Integers are exact: every integer in
range is allowed. A fraction is allowed when its whole unit lies in range (for `minimum: 0,
maximum: 10`, anything from 0 up to 9.999... and 10 itself), which keeps the grammar small.
Like the converter's own numbers, integer parts and fractions have at most 16 digits."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

LARGEST = 10**16 - 1
# One to sixteen fraction digits, nested so that each text has one parse (as the converter does).
FRACTION = '"." [0-9] ' + "([0-9] " * 15 + ")?" * 15


def bounded_number(schema: dict[str, Any]) -> str | None:
    """The rule's body for an integer or number schema with bounds; None without bounds."""
    lower, lower_open = _bound(schema, "minimum", "exclusiveMinimum")
    upper, upper_open = _bound(schema, "maximum", "exclusiveMaximum")
    if lower is None and upper is None:
        return None
    low = -LARGEST if lower is None else _first_integer_above(lower, lower_open)
    high = LARGEST if upper is None else _last_integer_below(upper, upper_open)
    low, high = max(low, -LARGEST), min(high, LARGEST)
    choices = [integers(low, high)] if low <= high else []
    if schema.get("type") == "number":
        # n.f lies in [n, n+1): n must meet the lower bound, n+1 the upper one.
        top = LARGEST if upper is None else min(math.floor(upper) - 1, LARGEST - 1)
        if max(low, 0) <= top:
            choices.append(f"{integers(max(low, 0), top)} {FRACTION}")
        # -m.f lies in (-(m+1), -m]: -m must meet the upper bound, -(m+1) the lower one.
        bottom = LARGEST - 1 if lower is None else min(math.floor(-lower) - 1, LARGEST - 1)
        if max(-high, 0) <= bottom:
            choices.append(f'"-" {integers(max(-high, 0), bottom)} {FRACTION}')
    if not choices:
        raise ValueError("no number satisfies minimum/maximum")
    return "(" + " | ".join(choices) + ") space"


def integers(low: int, high: int) -> str:
    """A GBNF expression for exactly the JSON integers low..high (no leading zeros, no -0)."""
    alternatives: list[str] = []
    if high >= 0:
        alternatives += _naturals(max(low, 0), high)
    if low < 0:
        alternatives += [f'"-" {each}' for each in _naturals(max(-high, 1), -low)]
    return "(" + " | ".join(alternatives) + ")"


def _naturals(low: int, high: int) -> list[str]:
    """Sequences of digit classes covering low..high (0 <= low <= high), split by length."""
    found: list[str] = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        end = min(high, 10**digits - 1)
        if start <= end:
            found += [" ".join(run) for run in _same_length(str(start), str(end))]
    return found


def _same_length(low: str, high: str) -> list[list[str]]:
    if low == high:
        return [[f'"{low}"']]
    if low[0] == high[0]:
        return [[f'"{low[0]}"', *rest] for rest in _same_length(low[1:], high[1:])]
    tail = len(low) - 1
    first, last = int(low[0]), int(high[0])
    runs: list[list[str]] = []
    if low[1:] != "0" * tail:
        runs += [[f'"{low[0]}"', *rest] for rest in _same_length(low[1:], "9" * tail)]
        first += 1
    closing: list[list[str]] = []
    if high[1:] != "9" * tail:
        closing = [[f'"{high[0]}"', *rest] for rest in _same_length("0" * tail, high[1:])]
        last -= 1
    if first <= last:
        digit = f"[{first}-{last}]" if first < last else f'"{first}"'
        runs.append([digit, *["[0-9]"] * tail])
    return runs + closing


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[Decimal | None, bool]:
    """The bound and whether it is open; draft-4's boolean `exclusiveMinimum` is understood."""
    flag = schema.get(exclusive)
    if isinstance(flag, bool):
        return _decimal(schema.get(inclusive), inclusive), flag
    if flag is not None:
        tight = _decimal(flag, exclusive)
        loose = _decimal(schema.get(inclusive), inclusive)
        if loose is None or (tight is not None and _tighter(tight, loose, inclusive)):
            return tight, True
        return loose, False
    return _decimal(schema.get(inclusive), inclusive), False


def _tighter(candidate: Decimal, other: Decimal, inclusive: str) -> bool:
    return candidate >= other if inclusive == "minimum" else candidate <= other


def _decimal(value: Any, keyword: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{keyword} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{keyword} must be a finite number") from None
    if not number.is_finite():
        raise ValueError(f"{keyword} must be a finite number")
    return number


def _first_integer_above(bound: Decimal, open_: bool) -> int:
    whole = math.floor(bound)
    return whole + 1 if open_ or whole < bound else whole


def _last_integer_below(bound: Decimal, open_: bool) -> int:
    whole = math.ceil(bound)
    return whole - 1 if open_ or whole > bound else whole
