"""The ledger through the real server: every billed request once, with its usage and exact
cost, written before the response completes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from parley.domain.metering import LedgerEntry
from tests.factories import cached, manual
from tests.helpers import ADMIN_KEY, API_KEY, MODEL, blocking

QUESTION = [{"role": "user", "content": "Name a colour."}]
INPUT_PICO = 100_000  # the packaged model's $0.10 per million input tokens
OUTPUT_PICO = 500_000  # and $0.50 per million output tokens


def ledger_entry(app: FastAPI, request_id: str) -> LedgerEntry | None:
    principal = blocking(app.state.keys.authenticate(API_KEY))
    now = datetime.now(UTC)
    entries = blocking(
        app.state.ledger.read(
            principal.organization_id, now - timedelta(days=40), now + timedelta(days=40)
        )
    )
    found = [e for e in entries if e.request_id == request_id]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_message_is_in_the_ledger_once_with_its_usage_and_exact_cost(
    app: FastAPI, http: httpx.Client
) -> None:
    response = http.post(
        "/v1/messages", json={"model": MODEL, "max_tokens": 5, "messages": QUESTION}
    )
    usage = response.json()["usage"]
    entry = ledger_entry(app, response.headers["request-id"])
    assert entry is not None
    assert (entry.message_id, entry.model, entry.surface, entry.region, entry.service_tier) == (
        response.json()["id"],
        MODEL,
        "claude_api",
        "global",
        "standard",
    )
    assert (entry.uncached_input_tokens, entry.output_tokens) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert entry.cost_picodollars == (
        usage["input_tokens"] * INPUT_PICO + usage["output_tokens"] * OUTPUT_PICO
    )


def test_a_stream_is_in_the_ledger_by_the_time_message_stop_arrives(
    app: FastAPI, http: httpx.Client
) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": QUESTION, "stream": True}
    with http.stream("POST", "/v1/messages", json=body) as response:
        for line in response.iter_lines():
            if line == "event: message_stop":
                assert ledger_entry(app, response.headers["request-id"]) is not None
                break
        else:
            pytest.fail("no message_stop")


def test_inference_geo_us_costs_ten_percent_more_and_is_the_rows_geo(
    app: FastAPI, http: httpx.Client
) -> None:
    body = {"model": MODEL, "max_tokens": 1, "messages": QUESTION, "inference_geo": "us"}
    response = http.post("/v1/messages", json=body)
    usage = response.json()["usage"]
    entry = ledger_entry(app, response.headers["request-id"])
    assert entry is not None and (entry.surface, entry.region, entry.geo) == (
        "claude_api",
        "global",
        "us",
    )
    plain = usage["input_tokens"] * INPUT_PICO + usage["output_tokens"] * OUTPUT_PICO
    assert entry.cost_picodollars * 10 == plain * 11


def test_a_prewarm_is_billed_for_its_cache_write(app: FastAPI, http: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 0,
        "system": [cached(manual("metering"))],
        "messages": QUESTION,
    }
    response = http.post("/v1/messages", json=body)
    usage = response.json()["usage"]
    entry = ledger_entry(app, response.headers["request-id"])
    assert entry is not None
    assert entry.cache_write_5m_tokens == usage["cache_creation_input_tokens"] > 0
    assert entry.cost_picodollars == (
        usage["input_tokens"] * INPUT_PICO + usage["cache_creation_input_tokens"] * 125_000
    )


def test_a_request_refused_before_generating_is_not_billed(
    app: FastAPI, http: httpx.Client
) -> None:
    response = http.post("/v1/messages", json={"model": MODEL, "max_tokens": 5, "messages": []})
    assert response.status_code == 400
    assert ledger_entry(app, response.headers["request-id"]) is None


def test_an_abandoned_stream_is_billed_for_the_tokens_it_generated(
    app: FastAPI, http: httpx.Client
) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "Write a very long story about a lighthouse."}],
        "stream": True,
    }
    with http.stream("POST", "/v1/messages", json=body) as response:
        request_id = response.headers["request-id"]
        deltas = 0
        for line in response.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 5:
                break  # leaving the block closes the connection mid-stream
    deadline = time.monotonic() + 10
    while (entry := ledger_entry(app, request_id)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert entry is not None
    assert 5 <= entry.output_tokens < 400


def test_the_usage_report_adds_up_to_the_ledger(app: FastAPI, base_url: str) -> None:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with httpx.Client(base_url=base_url, headers={"x-api-key": ADMIN_KEY}) as admin:
        params = {"starting_at": day.isoformat(), "bucket_width": "1d", "limit": 1}
        usage = admin.get("/v1/organizations/usage_report/messages", params=params).json()
        cost = admin.get("/v1/organizations/cost_report", params=params).json()
    principal = blocking(app.state.keys.authenticate(API_KEY))
    rows = blocking(app.state.ledger.read(principal.organization_id, day, day + timedelta(days=1)))
    (bucket,) = usage["data"]
    assert sum(r["output_tokens"] for r in bucket["results"]) == sum(e.output_tokens for e in rows)
    cents = sum(Decimal(r["amount"]) for r in cost["data"][0]["results"])
    assert cents == Decimal(sum(e.cost_picodollars for e in rows)) / 10**10
    assert usage["has_more"] is False and usage["next_page"] is None


def test_a_workspace_key_cannot_read_the_reports(http: httpx.Client) -> None:
    params = {"starting_at": "2026-11-01T00:00:00Z"}
    response = http.get("/v1/organizations/cost_report", params=params)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
