"""A busy organization's ledger for bench/reports.py: `count` rows over 30 days for 20
workspaces, 50 keys and 3 models, written in large batches straight into the ledger table."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from parley.store.tables import ledger

MODELS = ("smollm2-135m-instruct-20250207", "parley-medium-20250301", "parley-large-20250401")
PRICES = (1_000_000, 3_000_000, 15_000_000)  # picodollars per input token; output is 5x
DAYS = 30
BATCH = 20_000


def _row(rng: random.Random, org: str, index: int, end: datetime) -> dict[str, Any]:
    pick = rng.randrange(3)
    key = rng.randrange(50)
    completed = end - timedelta(seconds=rng.random() * DAYS * 86400)
    uncached, written, read = rng.randrange(1, 4000), rng.randrange(0, 2000), rng.randrange(0, 8000)
    output = rng.randrange(1, 1000)
    price = PRICES[pick]
    costs = [uncached * price, written * price * 5 // 4, 0, read * price // 10, output * price * 5]
    return {
        "request_id": f"req_bench_{index:08d}",
        "message_id": f"msg_bench_{index:08d}",
        "organization_id": org,
        "workspace_id": f"wrkspc_bench_{key % 20:02d}",
        "api_key_id": f"apikey_bench_{key:02d}",
        "model": MODELS[pick],
        "surface": "claude_api",
        "region": "global",
        "service_tier": "batch" if rng.random() < 0.1 else "standard",
        "uncached_input_tokens": uncached,
        "cache_write_5m_tokens": written,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": read,
        "output_tokens": output,
        "cost_picodollars": sum(costs),
        "cost_uncached_picodollars": costs[0],
        "cost_write_5m_picodollars": costs[1],
        "cost_write_1h_picodollars": costs[2],
        "cost_read_picodollars": costs[3],
        "cost_output_picodollars": costs[4],
        "started_at": completed - timedelta(seconds=1),
        "completed_at": completed,
        "geo": "global",
    }


def fill(engine: sa.Engine, organization_id: str, count: int, seed: int = 15) -> None:
    """Writes `count` rows ending now for `organization_id` (seeded: the same rows each run)."""
    rng = random.Random(seed)
    end = datetime.now(UTC)
    for first in range(0, count, BATCH):
        rows = [_row(rng, organization_id, i, end) for i in range(first, min(count, first + BATCH))]
        with engine.begin() as conn:
            conn.execute(sa.insert(ledger), rows)
