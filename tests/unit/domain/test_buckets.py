"""Token buckets: continuous refill, all-or-nothing admission, corrections, header numbers."""

from __future__ import annotations

import pytest

from parley.domain.buckets import (
    Bucket,
    Charge,
    admit,
    full_at,
    refilled,
    remaining,
    settle,
)


def test_a_new_bucket_is_full() -> None:
    assert refilled(None, 600, now=100.0) == Bucket(600.0, 100.0)


def test_a_bucket_refills_at_its_limit_per_minute_up_to_the_limit() -> None:
    assert refilled(Bucket(0.0, 0.0), 600, now=6.0) == Bucket(60.0, 6.0)
    assert refilled(Bucket(0.0, 0.0), 600, now=600.0) == Bucket(600.0, 600.0)


def test_time_running_backwards_refills_nothing() -> None:
    assert refilled(Bucket(10.0, 50.0), 600, now=40.0) == Bucket(10.0, 50.0)


def test_admission_takes_the_cost_from_every_bucket() -> None:
    result = admit([Charge("rpm", 60, 1), Charge("itpm", 1000, 300)], [None, None], now=0.0)
    assert result.admitted and result.retry_after == 0
    assert result.buckets == (Bucket(59.0, 0.0), Bucket(700.0, 0.0))


def test_one_short_bucket_refuses_the_whole_request_and_takes_nothing() -> None:
    buckets = [Bucket(59.0, 0.0), Bucket(100.0, 0.0)]
    result = admit([Charge("rpm", 60, 1), Charge("itpm", 1000, 300)], buckets, now=0.0)
    assert not result.admitted
    assert result.buckets == (Bucket(59.0, 0.0), Bucket(100.0, 0.0))
    assert result.retry_after == 12  # 200 tokens at 1000/60 per second = 12 s


@pytest.mark.parametrize(("level", "expected"), [(0.0, 1), (59.5, 1), (-30.0, 31)])
def test_retry_after_is_whole_seconds_rounded_up(level: float, expected: int) -> None:
    result = admit([Charge("rpm", 60, 1)], [Bucket(level, 0.0)], now=0.0)
    assert (result.admitted, result.retry_after) == (level >= 1, 0 if level >= 1 else expected)


def test_waiting_retry_after_seconds_is_enough() -> None:
    refused = admit([Charge("itpm", 1000, 300)], [Bucket(100.0, 0.0)], now=0.0)
    assert admit([Charge("itpm", 1000, 300)], [refused.buckets[0]], now=12.0).admitted
    assert not admit([Charge("itpm", 1000, 300)], [refused.buckets[0]], now=11.0).admitted


def test_a_full_bucket_admits_a_request_larger_than_its_limit_into_debt() -> None:
    result = admit([Charge("itpm", 1000, 2500)], [None], now=0.0)
    assert result.admitted and result.buckets == (Bucket(-1500.0, 0.0),)


def test_settling_returns_unused_tokens_but_never_above_the_limit() -> None:
    assert settle(Bucket(100.0, 0.0), 1000, delta=-50, now=0.0) == Bucket(150.0, 0.0)
    assert settle(Bucket(990.0, 0.0), 1000, delta=-50, now=0.0) == Bucket(1000.0, 0.0)
    assert settle(Bucket(100.0, 0.0), 1000, delta=120, now=0.0) == Bucket(-20.0, 0.0)


def test_headers_show_what_is_left_and_when_it_is_full() -> None:
    bucket = Bucket(-20.5, 10.0)
    assert remaining(bucket, 1000) == 0
    assert remaining(Bucket(400.7, 0.0), 1000) == 400
    assert full_at(Bucket(400.0, 10.0), 1000) == pytest.approx(10.0 + 36.0)
