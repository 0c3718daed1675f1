"""Replica choice for remote engines: prefix affinity, load as the tie-breaker, the cap on
imbalance, and plain rotation."""

from __future__ import annotations

from parley.domain.ports import GenerateRequest, Sampling
from parley.engine.remote.replicas import ReplicaState
from parley.engine.remote.router import (
    BLOCK,
    PrefixRouter,
    RoundRobinRouter,
    cached_prefix,
    prefix_keys,
)


def request(prompt: list[int], tenant: str = "ws-a", pins: tuple[int, ...] = ()) -> GenerateRequest:
    return GenerateRequest(
        prompt=prompt,
        max_tokens=8,
        sampling=Sampling(),
        tenant=tenant,
        pins=tuple((length, 300.0) for length in pins),
    )


def pool(count: int = 2) -> list[ReplicaState]:
    return [ReplicaState(f"http://replica-{n}", None) for n in range(count)]


def test_keys_sit_at_each_pin_and_each_full_block_longest_first() -> None:
    keys = prefix_keys(request(list(range(2 * BLOCK + 10)), pins=(300,)))
    assert [length for length, _ in keys] == [2 * BLOCK, 300, BLOCK]


def test_a_key_never_covers_the_last_prompt_token() -> None:
    assert [length for length, _ in prefix_keys(request(list(range(BLOCK))))] == []


def test_the_same_tokens_in_another_workspace_have_other_keys() -> None:
    prompt = list(range(BLOCK + 1))
    assert prefix_keys(request(prompt, "ws-a")) != prefix_keys(request(prompt, "ws-b"))


def test_a_hit_must_reuse_the_longest_pin() -> None:
    assert cached_prefix(request(list(range(2 * BLOCK + 10)), pins=(300, 100))) == 300


def test_without_pins_a_hit_must_reuse_the_longest_whole_block() -> None:
    assert cached_prefix(request(list(range(2 * BLOCK + 10)))) == 2 * BLOCK
    assert cached_prefix(request(list(range(BLOCK)))) == 0


def test_a_known_prefix_goes_back_to_its_replica() -> None:
    router, replicas = PrefixRouter(imbalance_cap=4), pool()
    first = router.choose(request([1] * 600), replicas).replica
    first.in_flight = 1  # busier than the other one, within the cap
    again = router.choose(request([1] * 600 + [2] * 50), replicas)
    assert again.replica is first
    assert again.prefix == 2 * BLOCK


def test_new_prefixes_spread_over_idle_replicas() -> None:
    router, replicas = PrefixRouter(imbalance_cap=4), pool()
    chosen = {router.choose(request([n] * 600), replicas).replica.url for n in range(2)}
    assert chosen == {"http://replica-0", "http://replica-1"}


def test_a_replica_past_the_imbalance_cap_gives_way_to_the_least_loaded() -> None:
    router, replicas = PrefixRouter(imbalance_cap=2), pool()
    owner = router.choose(request([1] * 600), replicas).replica
    other = next(r for r in replicas if r is not owner)
    owner.in_flight = 3
    assert router.choose(request([1] * 600), replicas).replica is other


def test_the_prefix_moves_with_the_request_that_gave_way() -> None:
    router, replicas = PrefixRouter(imbalance_cap=0), pool()
    owner = router.choose(request([1] * 600), replicas).replica
    owner.in_flight = 1
    moved = router.choose(request([1] * 600), replicas).replica
    owner.in_flight = moved.in_flight = 0
    assert router.choose(request([1] * 600), replicas).replica is moved


def test_only_the_candidates_given_are_chosen() -> None:
    router, replicas = PrefixRouter(imbalance_cap=4), pool()
    owner = router.choose(request([1] * 600), replicas).replica
    rest = [r for r in replicas if r is not owner]
    assert router.choose(request([1] * 600), rest).replica is rest[0]


def test_round_robin_rotates_whatever_the_prefix() -> None:
    router, replicas = RoundRobinRouter(), pool()
    chosen = [router.choose(request([1] * 600), replicas).replica.url for _ in range(4)]
    assert chosen == [
        "http://replica-1",
        "http://replica-0",
        "http://replica-1",
        "http://replica-0",
    ]
