"""The expected-wait estimate behind the 529 of an engine that cannot start a request soon."""

from __future__ import annotations

import pytest

from parley.engine.llama.admission import TokenCosts, start_delay


def test_an_idle_engine_starts_a_request_at_once() -> None:
    assert start_delay([], [], slots=4) == 0.0


def test_a_free_slot_with_nobody_waiting_starts_a_request_at_once() -> None:
    assert start_delay([1.0, 2.0, 3.0], [], slots=4) == 0.0


def test_with_every_slot_busy_a_request_waits_for_the_first_to_free() -> None:
    # each of 2 slots gets half the engine: 0.5 s of engine work takes 1 s
    assert start_delay([0.5, 2.0], [], slots=2) == 1.0


def test_waiting_jobs_take_the_slots_that_free_first_come_first_served() -> None:
    # slots free at 1 s and 4 s; the first waiter runs 1 s..3 s, the second 3 s..5 s
    assert start_delay([0.5, 2.0], [1.0, 1.0], slots=2) == pytest.approx(4.0)


def test_one_slot_waits_for_all_the_work_ahead() -> None:
    assert start_delay([0.25], [0.5, 0.125], slots=1) == pytest.approx(0.875)


def test_a_fresh_engine_prices_work_at_nothing() -> None:
    assert TokenCosts().work(100, 100) == 0.0


def test_a_decode_step_prices_decode_and_prefill_tokens_alike_until_prefill_is_measured() -> None:
    costs = TokenCosts()
    costs.observe(decoded=4, prefilled=0, seconds=0.2)
    assert costs.decode == pytest.approx(0.05)
    assert costs.work(10, 2) == pytest.approx(0.6)


def test_costs_are_exponentially_weighted_means_of_the_steps() -> None:
    costs = TokenCosts(weight=0.5)
    costs.observe(decoded=0, prefilled=100, seconds=0.1)
    costs.observe(decoded=0, prefilled=100, seconds=0.3)
    assert costs.prefill == pytest.approx(0.002)


def test_a_mixed_step_charges_prefill_what_decode_did_not_take() -> None:
    costs = TokenCosts(weight=1.0)
    costs.observe(decoded=2, prefilled=0, seconds=0.02)  # 10 ms per decode token
    costs.observe(decoded=2, prefilled=50, seconds=0.07)  # 20 ms decode, 50 ms for 50 tokens
    assert costs.prefill == pytest.approx(0.001)
    assert costs.work(100, 3) == pytest.approx(0.13)


def test_a_mixed_step_before_any_decode_step_measures_nothing() -> None:
    costs = TokenCosts()
    costs.observe(decoded=2, prefilled=50, seconds=0.07)
    assert (costs.prefill, costs.decode) == (None, None)
