"""Numeric bounds in grammars: every number allowed is in range, every integer in range is
allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.engine.llama.ranges import bounded_number, integers
from tests.unit.engine.gbnf import allowed


@settings(deadline=None)
@given(low=st.integers(-12_000, 12_000), span=st.integers(0, 3_000))
def test_integers_allow_exactly_the_range(low: int, span: int) -> None:
    high = low + span
    expression = integers(low, high)
    for value in range(low - 120, high + 121):
        assert allowed(expression, str(value)) == (low <= value <= high), value


def test_integers_have_no_leading_zeros_and_no_negative_zero() -> None:
    expression = integers(-5, 500)
    assert not allowed(expression, "007")
    assert not allowed(expression, "-0")
    assert allowed(expression, "0")


def test_a_claude_code_offset_allows_every_safe_integer_up_to_its_maximum() -> None:
    body = bounded_number({"type": "integer", "minimum": 0, "maximum": 9007199254740991})
    assert body is not None
    assert allowed(body, "9007199254740991")
    assert not allowed(body, "9007199254740992")
    assert not allowed(body, "-1")


def test_an_exclusive_minimum_of_zero_allows_positive_integers_only() -> None:
    body = bounded_number({"type": "integer", "exclusiveMinimum": 0})
    assert body is not None
    assert [allowed(body, text) for text in ("0", "1", "-3", "42")] == [False, True, False, True]


def test_draft_4_boolean_exclusive_bounds_are_understood() -> None:
    body = bounded_number({"type": "integer", "minimum": 1, "exclusiveMinimum": True})
    assert body is not None
    assert not allowed(body, "1")
    assert allowed(body, "2")


def test_no_bounds_leaves_the_number_to_the_converter() -> None:
    assert bounded_number({"type": "number"}) is None


def test_an_empty_range_cannot_be_enforced() -> None:
    with pytest.raises(ValueError, match="no number satisfies"):
        bounded_number({"type": "integer", "minimum": 3, "exclusiveMaximum": 3})


def test_a_bound_that_is_not_a_number_cannot_be_enforced() -> None:
    with pytest.raises(ValueError, match="minimum must be a number"):
        bounded_number({"type": "integer", "minimum": "0"})


bound = st.one_of(
    st.none(),
    st.integers(-300, 300),
    st.decimals(-300, 300, places=2).map(float),
)


def within(value: Decimal, schema: dict[str, Any]) -> bool:
    checks = [
        ("minimum", lambda b: value >= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMaximum", lambda b: value < b),
    ]
    return all(check(Decimal(str(schema[key]))) for key, check in checks if key in schema)


@settings(deadline=None)  # wide ranges make long expressions; their regexes compile slowly
@given(
    lower=bound,
    upper=bound,
    lower_open=st.booleans(),
    upper_open=st.booleans(),
    samples=st.lists(st.decimals(-400, 400, places=3), min_size=30, max_size=30),
)
def test_every_number_allowed_lies_within_the_bounds(
    lower: float | None,
    upper: float | None,
    lower_open: bool,
    upper_open: bool,
    samples: list[Decimal],
) -> None:
    schema: dict[str, Any] = {"type": "number"}
    if lower is not None:
        schema["exclusiveMinimum" if lower_open else "minimum"] = lower
    if upper is not None:
        schema["exclusiveMaximum" if upper_open else "maximum"] = upper
    try:
        body = bounded_number(schema)
    except ValueError:
        return  # an empty range is refused, never loosened
    if body is None:
        return
    texts = [str(sample) for sample in samples] + [str(int(sample)) for sample in samples]
    for text in texts:
        if allowed(body, text):
            assert within(Decimal(text), schema), text
    for whole in range(-400, 401):
        if within(Decimal(whole), schema):
            assert allowed(body, str(whole)), whole
