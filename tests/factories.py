"""Builders of test data that several test modules share."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from parley.domain.metering import LedgerEntry

COLOURS = ("red", "green", "blue", "amber", "white", "black", "violet")

_BASE = LedgerEntry(
    request_id="req_test",
    message_id="msg_test",
    organization_id="org",
    workspace_id="wrk",
    api_key_id="key",
    model="m",
    surface="claude_api",
    region="global",
    service_tier="standard",
    uncached_input_tokens=0,
    cache_write_5m_tokens=0,
    cache_write_1h_tokens=0,
    cache_read_tokens=0,
    output_tokens=0,
    cost_picodollars=0,
    cost_uncached_picodollars=0,
    cost_write_5m_picodollars=0,
    cost_write_1h_picodollars=0,
    cost_read_picodollars=0,
    cost_output_picodollars=0,
    started_at=datetime(2026, 11, 20, tzinfo=UTC),
    completed_at=datetime(2026, 11, 20, tzinfo=UTC),
)


def ledger_entry(**changes: Any) -> LedgerEntry:
    """A ledger row with zero counts and costs, but for `changes`."""
    return replace(_BASE, **changes)


def manual(edition: str, rules: int = 45) -> str:
    """A long, deterministic system prompt (about 14 tokens a rule for the packaged model,
    10 words a rule). The edition comes last, so editions share most of their tokens physically
    but never a cache entry."""
    lines = [
        f"Rule {i}: keep the {COLOURS[i % 7]} valve closed for {i} seconds." for i in range(rules)
    ]
    return "\n".join([*lines, f"Edition {edition}."])


def cached(text: str, ttl: str | None = None) -> dict[str, Any]:
    """A text block with a `cache_control` breakpoint (of `ttl`, or the default)."""
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return {"type": "text", "text": text, "cache_control": control}


leaf = st.one_of(
    st.just({"type": "integer"}),
    st.just({"type": "boolean"}),
    st.just({"type": "string", "maxLength": 12}),
    st.lists(
        st.sampled_from(["red", "green", "blue", "amber"]), min_size=1, max_size=3, unique=True
    ).map(lambda values: {"enum": values}),
    st.just({"type": "array", "items": {"type": "integer"}, "maxItems": 3}),
    st.tuples(st.integers(-50, 50), st.integers(0, 200)).map(
        lambda bounds: {"type": "integer", "minimum": bounds[0], "maximum": bounds[0] + bounds[1]}
    ),
    st.just({"type": "number", "exclusiveMinimum": 0, "maximum": 600000}),
    st.just({"type": ["integer", "null"], "exclusiveMaximum": -3}),
)


@st.composite
def object_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """JSON Schemas of objects with one to three properties of the kinds in `leaf`."""
    names = draw(
        st.lists(
            st.sampled_from(["city", "rank", "open", "tags", "colour"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    properties = {name: draw(leaf) for name in names}
    required = draw(st.lists(st.sampled_from(names), unique=True))
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
