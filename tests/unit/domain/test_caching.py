"""The contract's cache rules as pure arithmetic: breakpoints, keys and the billing split."""

from __future__ import annotations

import pytest

from parley.domain.caching import (
    Breakpoint,
    CachePlan,
    EntryWrite,
    breakpoints,
    lookup_candidates,
    plan_cache,
    prefix_keys,
)
from parley.domain.prompt import Block, CacheTtl
from parley.errors import InvalidRequestError


def blocks(*ttls: CacheTtl | None, cacheable: bool = True) -> list[Block]:
    return [Block("system", None, ttl, cacheable) for ttl in ttls]


def test_breakpoints_are_the_blocks_with_cache_control_in_prefix_order() -> None:
    assert breakpoints(blocks(None, "1h", None, "5m"), None) == [
        Breakpoint(1, "1h"),
        Breakpoint(3, "5m"),
    ]


def test_the_automatic_breakpoint_skips_blocks_that_render_nothing() -> None:
    found = breakpoints([*blocks(None, None), Block("messages", 0, None, False)], "5m")
    assert found == [Breakpoint(1, "5m")]


def test_a_one_hour_breakpoint_after_a_five_minute_one_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="must not come after"):
        breakpoints(blocks("5m", "1h"), None)


def test_keys_name_exact_prefixes_within_one_scope() -> None:
    tokens = [5, 6, 7, 8]
    keys = prefix_keys("w\0m", tokens, [2, 4], 5, b"")
    assert keys[0] == prefix_keys("w\0m", [5, 6, 9], [2], 5, b"")[0]
    assert keys[0] != prefix_keys("other\0m", tokens, [2, 4], 5, b"")[0]
    assert keys[1] != prefix_keys("w\0m", [5, 6, 7, 9], [2, 4], 5, b"")[1]


def test_the_salt_changes_only_the_keys_from_its_block_on() -> None:
    plain = prefix_keys("s", [1, 2, 3, 4], [2, 4], 1, b"auto")
    salted = prefix_keys("s", [1, 2, 3, 4], [2, 4], 1, b"none")
    assert plain[0] == salted[0] and plain[1] != salted[1]


def test_the_lookback_covers_the_breakpoint_and_nineteen_blocks_before_it() -> None:
    keys = [f"k{i}" for i in range(30)]
    assert lookup_candidates([Breakpoint(25, "5m")], keys) == [f"k{i}" for i in range(25, 5, -1)]


ENDS = [100, 600, 700, 900, 1000]
KEYS = ["a", "b", "c", "d", "e"]


def test_a_first_request_writes_everything_up_to_the_last_breakpoint() -> None:
    plan = plan_cache([Breakpoint(3, "5m")], ENDS, KEYS, set(), 1010, 512)
    assert plan == CachePlan(write_5m=900, uncached=110, writes=(EntryWrite("d", 900, "5m"),))


def test_the_longest_hit_is_read_and_the_rest_written() -> None:
    plan = plan_cache([Breakpoint(4, "5m")], ENDS, KEYS, {"b", "c"}, 1010, 512)
    assert (plan.read, plan.write_5m, plan.uncached, plan.hit) == (700, 300, 10, "c")


def test_one_hour_writes_end_at_the_last_one_hour_breakpoint_past_the_hit() -> None:
    points = [Breakpoint(2, "1h"), Breakpoint(4, "5m")]
    plan = plan_cache(points, ENDS, KEYS, {"b"}, 1010, 512)
    assert (plan.read, plan.write_1h, plan.write_5m, plan.uncached) == (600, 100, 300, 10)
    assert plan.pins() == ((700, 3600.0), (1000, 300.0))


def test_breakpoints_below_the_minimum_cache_nothing() -> None:
    plan = plan_cache([Breakpoint(0, "5m")], ENDS, KEYS, {"a"}, 1010, 512)
    assert plan == CachePlan(uncached=1010)


def test_unknown_block_ends_cache_nothing() -> None:
    plan = plan_cache([Breakpoint(1, "5m")], [None] * 5, KEYS, set(), 1010, 512)
    assert plan == CachePlan(uncached=1010)
