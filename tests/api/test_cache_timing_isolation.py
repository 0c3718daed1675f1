"""The prompt cache leaks nothing across workspaces, by timing either: the time to first token
of a prefix another workspace cached is a cold prefill's, not a warm read's. Ratios within one
run on the real model (each prefix starts with its own tag, so no two share physical cells)."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest

from tests.factories import cached, manual
from tests.helpers import API_KEY, MODEL, OTHER_WORKSPACE_KEY

pytestmark = pytest.mark.slow


def prefix() -> str:
    """About 650 tokens (past the model's 512-token minimum) no earlier prompt began with."""
    return f"Manual {uuid.uuid4().hex}.\n" + manual("timing")


def first_token(base_url: str, key: str, system: str) -> tuple[float, int]:
    """(seconds to the first text delta, cache_read_input_tokens) of a streamed request."""
    body = {
        "model": MODEL,
        "max_tokens": 1,
        "stream": True,
        "system": [cached(system)],
        "messages": [{"role": "user", "content": "Which valve?"}],
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    read = -1
    started = time.perf_counter()
    url = f"{base_url}/v1/messages"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and '"message_start"' in line:
                read = int(line.split('"cache_read_input_tokens":')[1].split(",")[0])
            if line.startswith("data:") and '"content_block_delta"' in line:
                return time.perf_counter() - started, read
    raise AssertionError("no text delta")


def test_a_prefix_another_workspace_cached_is_prefilled_cold(base_url: str) -> None:
    cold, across, warm = [], [], []
    for _ in range(2):
        shared = prefix()
        first_token(base_url, API_KEY, shared)  # workspace A caches it
        seconds, read = first_token(base_url, OTHER_WORKSPACE_KEY, shared)
        across.append(seconds)
        assert read == 0
        seconds, read = first_token(base_url, API_KEY, prefix())
        cold.append(seconds)
        assert read == 0
        seconds, read = first_token(base_url, API_KEY, shared)
        warm.append(seconds)
        assert read > 512
    cold_s, across_s, warm_s = (statistics.median(v) for v in (cold, across, warm))
    print(f"TTFT cold {cold_s:.3f} s, another workspace's {across_s:.3f} s, warm {warm_s:.3f} s")
    assert warm_s < 0.5 * cold_s
    assert across_s > 0.6 * cold_s
