"""The longest common prefix of two token runs, for the prefix tree and the RAM tier alike."""

from __future__ import annotations

from collections.abc import Sequence


def common_length(a: Sequence[object], b: Sequence[object], unit: int = 1) -> int:
    """How many leading units of `a` and `b` are equal (`unit` items each: 4 for tokens packed
    as int32 bytes). Both are of one type (tuples, or bytes): whole slices compare in C, and a
    binary search finds the first difference, since prompts of thousands of tokens are matched
    on every admission."""
    low, high = 0, min(len(a), len(b)) // unit
    if a[: high * unit] == b[: high * unit]:
        return high
    while low < high:  # equal prefixes stay equal when shortened
        middle = (low + high + 1) // 2
        if a[: middle * unit] == b[: middle * unit]:
            low = middle
        else:
            high = middle - 1
    return low
