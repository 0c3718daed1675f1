"""Billing follows the logical cache only: a read stays a read after the KV cells are gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.factories import cached, manual
from tests.helpers import MODEL, counter, in_process


@pytest.fixture()
async def forgetful(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second app whose engine keeps no prefix once another request needs the cells."""
    async for raw in in_process(
        tmp_path, threads=2, kv_cells=4096, max_sequences=1, prefix_entries=0, cache_ram_mb=0
    ):
        yield raw


def body(edition: str) -> dict[str, object]:
    return {
        "model": MODEL,
        "max_tokens": 1,
        "system": [cached(manual(edition))],
        "messages": [{"role": "user", "content": "Which valve?"}],
    }


async def test_an_evicted_entry_is_recomputed_and_still_billed_as_a_read(
    forgetful: httpx.AsyncClient,
) -> None:
    first = (await forgetful.post("/v1/messages", json=body("kept"))).json()["usage"]
    other = {**body("other"), "system": "An unrelated system prompt. " * 40}
    assert (await forgetful.post("/v1/messages", json=other)).status_code == 200  # evicts
    before = (await forgetful.get("/metrics")).text
    again = (await forgetful.post("/v1/messages", json=body("kept"))).json()["usage"]
    after = (await forgetful.get("/metrics")).text
    prefilled = counter(after, "parley_engine_tokens_total", phase="prefill") - counter(
        before, "parley_engine_tokens_total", phase="prefill"
    )
    total = first["input_tokens"] + first["cache_creation_input_tokens"]
    assert prefilled >= total - 8  # computed again, all but a few template tokens
    assert again["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert again["cache_creation_input_tokens"] == 0
