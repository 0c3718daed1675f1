"""Rate limits: token buckets per organization and model class, the hosted headers, 429 with
retry-after that the SDK's own retry loop honours, and cache reads outside ITPM."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from fastapi import FastAPI

from parley.app import create_app
from parley.settings import EngineSettings, LimitsSettings, Settings, TierSource
from parley.store.db import connect
from parley.store.keys import KeyStore
from tests.api.test_engine import COUNTING
from tests.api.test_prompt_caching import cached, manual
from tests.conftest import ADMIN_KEY, API_KEY, MODEL, blocking, free_port, running

QUESTION = [{"role": "user", "content": "Which valve?"}]


class FrozenClock:
    """A fake wall clock that stands still until a test moves it: bucket refills are exact."""

    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def tier(rpm: int, itpm: int, otpm: int) -> LimitsSettings:
    limits = {"default": {"rpm": rpm, "itpm": itpm, "otpm": otpm}}
    return LimitsSettings(
        tiers=[TierSource.model_validate({"name": "tiny", "classes": limits})],
        default_tier="tiny",
    )


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://parley",
            headers={"x-api-key": API_KEY},
            timeout=60,
        ) as raw,
    ):
        yield raw


async def limited_app(tmp_path: Path, limits: LimitsSettings, clock: Any) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path,
        limits=limits,
        engine=EngineSettings(threads=2, kv_cells=4096, max_sequences=2),
    )
    keys = KeyStore(connect(settings.resolved_database_url()))
    await keys.create(name="t", secret=API_KEY)
    await keys.create(name="admin", admin=True, secret=ADMIN_KEY)
    return create_app(settings, clock=clock)


@pytest.fixture()
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture()
async def tiny(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    async for raw in serve(await limited_app(tmp_path, tier(rpm=3, itpm=3000, otpm=100), clock)):
        yield raw


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 2, "messages": QUESTION, **extra}


async def test_every_response_carries_the_limits_and_what_is_left(
    tiny: httpx.AsyncClient, clock: FrozenClock
) -> None:
    counted = {"model": MODEL, "messages": QUESTION}
    prompt = (await tiny.post("/v1/messages/count_tokens", json=counted)).json()
    response = await tiny.post("/v1/messages", json=body())
    output = response.json()["usage"]["output_tokens"]
    headers = response.headers
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.at + 20))
    assert {k: v for k, v in headers.items() if k.startswith("anthropic-ratelimit-requests")} == {
        "anthropic-ratelimit-requests-limit": "3",
        "anthropic-ratelimit-requests-remaining": "2",
        "anthropic-ratelimit-requests-reset": reset,
    }
    assert headers["anthropic-ratelimit-input-tokens-limit"] == "3000"
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == str(
        3000 - prompt["input_tokens"]
    )
    assert headers["anthropic-ratelimit-output-tokens-remaining"] == "99"  # 1 held at admission
    assert headers["anthropic-ratelimit-tokens-remaining"] == "99"  # the tighter of the two
    after = await tiny.get("/v1/organizations/rate_limits", headers={"x-api-key": ADMIN_KEY})
    (group,) = after.json()["data"]
    left = {limit["type"]: limit["remaining"] for limit in group["limits"]}
    assert left["output_tokens_per_minute"] == 100 - output  # settled to the real output


async def test_the_request_over_the_limit_gets_a_429_with_a_sufficient_retry_after(
    tiny: httpx.AsyncClient, clock: FrozenClock
) -> None:
    for _ in range(3):
        assert (await tiny.post("/v1/messages", json=body())).status_code == 200
    refused = await tiny.post("/v1/messages", json=body())
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.headers["retry-after"] == "20"  # 1 request at 3 per minute
    assert refused.headers["anthropic-ratelimit-requests-remaining"] == "0"
    clock.advance(19)
    assert (await tiny.post("/v1/messages", json=body())).status_code == 429
    clock.advance(1)
    assert (await tiny.post("/v1/messages", json=body())).status_code == 200


async def test_cache_reads_do_not_count_toward_input_tokens_per_minute(
    tmp_path: Path, clock: FrozenClock
) -> None:
    app = await limited_app(tmp_path, tier(rpm=100, itpm=1500, otpm=1000), clock)
    async for raw in serve(app):
        system = [cached(manual("limits"))]
        first = await raw.post("/v1/messages", json=body(system=system))
        written = first.json()["usage"]["cache_creation_input_tokens"]
        assert written > 512
        left = int(first.headers["anthropic-ratelimit-input-tokens-remaining"])
        second = await raw.post("/v1/messages", json=body(system=system))
        usage = second.json()["usage"]
        assert usage["cache_read_input_tokens"] == written
        assert int(second.headers["anthropic-ratelimit-input-tokens-remaining"]) == (
            left - usage["input_tokens"]
        )


async def test_a_workspace_key_cannot_read_the_rate_limits(tiny: httpx.AsyncClient) -> None:
    response = await tiny.get("/v1/organizations/rate_limits")
    assert response.status_code == 403


def test_the_sdk_retries_after_a_429_and_succeeds(tmp_path: Path) -> None:
    """A real clock and server: 12 per minute regains a request every 5 seconds, so the SDK's
    own retry loop waits what retry-after says and then gets through."""
    app = blocking(limited_app(tmp_path, tier(rpm=12, itpm=100_000, otpm=10_000), None))
    with running(app, free_port()) as url:
        raw = httpx.Client(base_url=url, headers={"x-api-key": API_KEY}, timeout=60)
        with ThreadPoolExecutor(max_workers=4) as pool:  # drain the bucket
            drained = list(pool.map(lambda _: raw.post("/v1/messages", json=body()), range(16)))
        refused = [r for r in drained if r.status_code == 429]
        assert refused and 1 <= int(refused[0].headers["retry-after"]) <= 5
        client = anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=2)
        response = client.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=2,
            messages=QUESTION,  # type: ignore[arg-type]
        )
        assert response.retries_taken >= 1
        assert response.parse().usage.output_tokens >= 1


async def test_a_request_the_engine_refuses_with_529_uses_no_limit(
    tmp_path: Path, clock: FrozenClock
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        limits=tier(rpm=10, itpm=100_000, otpm=10_000),
        engine=EngineSettings(threads=1, kv_cells=4096, max_sequences=1, queue_limit=1),
    )
    keys = KeyStore(connect(settings.resolved_database_url()))
    await keys.create(name="t", secret=API_KEY)
    await keys.create(name="admin", admin=True, secret=ADMIN_KEY)
    async for raw in serve(create_app(settings, clock=clock)):
        long = body(max_tokens=300, temperature=0, messages=COUNTING)  # runs for seconds
        running = asyncio.create_task(raw.post("/v1/messages", json=long))
        await asyncio.sleep(0.3)  # the decode thread has taken it from the queue
        queued = asyncio.create_task(raw.post("/v1/messages", json=long))
        await asyncio.sleep(0.3)
        assert (await raw.post("/v1/messages", json=long)).status_code == 529
        listing = await raw.get("/v1/organizations/rate_limits", headers={"x-api-key": ADMIN_KEY})
        (group,) = listing.json()["data"]
        left = {limit["type"]: limit["remaining"] for limit in group["limits"]}
        assert left["requests_per_minute"] == 8  # the two that were queued, not the third
        await running, await queued


async def test_an_organization_over_its_monthly_cap_is_refused_until_next_month(
    tmp_path: Path, clock: FrozenClock
) -> None:
    limits = LimitsSettings(
        tiers=[TierSource.model_validate({"name": "capped", "monthly_cap": "0.000001"})],
        default_tier="capped",
    )
    async for raw in serve(await limited_app(tmp_path, limits, clock)):
        assert (await raw.post("/v1/messages", json=body())).status_code == 200  # > $0.000001
        refused = await raw.post("/v1/messages", json=body())
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["details"] == {"error_code": "enforced_spend_limit_reached"}
        assert "2027-02-01" in error["message"]  # the clock stands in January 2027
        assert refused.headers["x-should-retry"] == "false"
        assert "retry-after" not in refused.headers
