"""Rate limits: token buckets per organization (and workspace) and model class, the hosted
headers, 429 with retry-after that the SDK's own retry loop honours, and cache reads outside
ITPM. Generation is not what these test, so a FakeEngine answers: its prompts are one token per
word (`<user> Which valve? <assistant>` is 4) and its answer is 7 tokens long."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from fastapi import FastAPI

from parley.domain.catalog import DEFAULT_MODEL
from parley.domain.pricing import PICO
from parley.settings import ClassLimitsSource, LimitsSettings, Settings, TierSource
from parley.store.db import connect
from parley.store.tables import ledger
from tests.factories import cached, ledger_entry, manual
from tests.fakes import FakeEngine
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    FrozenClock,
    counter,
    create_keys,
    fake_app,
    free_port,
    running,
    serve,
)

QUESTION = [{"role": "user", "content": "Which valve?"}]
PROMPT_TOKENS = 4  # <user> Which valve? <assistant>
ANSWER_TOKENS = 7  # the FakeEngine's scripted answer
ADMIN = {"x-api-key": ADMIN_KEY}


def tier(rpm: int, itpm: int, otpm: int) -> LimitsSettings:
    limits = {"default": {"rpm": rpm, "itpm": itpm, "otpm": otpm}}
    return LimitsSettings(
        tiers=[TierSource.model_validate({"name": "tiny", "classes": limits})],
        default_tier="tiny",
    )


def limited_app(
    tmp_path: Path, limits: LimitsSettings, clock: Any, engine: FakeEngine | None = None
) -> FastAPI:
    settings = Settings(data_dir=tmp_path, limits=limits)
    create_keys(settings)
    return fake_app(settings, engine, clock)


async def headroom(raw: httpx.AsyncClient) -> dict[str, int]:
    """What is left of each of the organization's default-class limits."""
    listing = await raw.get("/v1/organizations/rate_limits", headers=ADMIN)
    (group,) = listing.json()["data"]
    return {limit["type"]: limit["remaining"] for limit in group["limits"]}


@pytest.fixture()
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture()
async def tiny(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    async for raw in serve(limited_app(tmp_path, tier(rpm=3, itpm=3000, otpm=100), clock)):
        yield raw


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 2, "messages": QUESTION, **extra}


async def test_every_response_carries_the_limits_and_what_is_left(
    tiny: httpx.AsyncClient, clock: FrozenClock
) -> None:
    counted = {"model": MODEL, "messages": QUESTION}
    prompt = (await tiny.post("/v1/messages/count_tokens", json=counted)).json()
    assert prompt["input_tokens"] == PROMPT_TOKENS
    response = await tiny.post("/v1/messages", json=body())
    assert response.json()["usage"]["output_tokens"] == 2
    headers = response.headers
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.at + 20))
    assert {k: v for k, v in headers.items() if k.startswith("anthropic-ratelimit-requests")} == {
        "anthropic-ratelimit-requests-limit": "3",
        "anthropic-ratelimit-requests-remaining": "2",
        "anthropic-ratelimit-requests-reset": reset,
    }
    assert headers["anthropic-ratelimit-input-tokens-limit"] == "3000"
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == "2996"  # 3000 - 4
    assert headers["anthropic-ratelimit-output-tokens-remaining"] == "99"  # 1 held at admission
    assert headers["anthropic-ratelimit-tokens-remaining"] == "99"  # the tighter of the two
    assert (await headroom(tiny))["output_tokens_per_minute"] == 98  # settled to the real 2


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
    text = manual("limits", rules=60)  # 602 words: over the packaged model's 512 minimum
    system = [cached(text)]
    written = 1 + len(text.split())  # <system> and the words, up to the breakpoint
    app = limited_app(tmp_path, tier(rpm=100, itpm=1500, otpm=1000), clock)
    async for raw in serve(app):
        first = await raw.post("/v1/messages", json=body(system=system))
        assert first.json()["usage"]["cache_creation_input_tokens"] == written
        left = 1500 - written - PROMPT_TOKENS
        assert first.headers["anthropic-ratelimit-input-tokens-remaining"] == str(left)
        second = await raw.post("/v1/messages", json=body(system=system))
        usage = second.json()["usage"]
        assert (usage["cache_read_input_tokens"], usage["input_tokens"]) == (
            written,
            PROMPT_TOKENS,
        )
        assert second.headers["anthropic-ratelimit-input-tokens-remaining"] == str(
            left - PROMPT_TOKENS
        )


async def test_a_workspace_key_cannot_read_the_rate_limits(tiny: httpx.AsyncClient) -> None:
    response = await tiny.get("/v1/organizations/rate_limits")
    assert response.status_code == 403


def test_the_sdk_retries_after_a_429_and_succeeds(tmp_path: Path) -> None:
    """A real clock and server: 12 per minute regains a request every 5 seconds, so the SDK's
    own retry loop waits what retry-after says and then gets through."""
    app = limited_app(tmp_path, tier(rpm=12, itpm=100_000, otpm=10_000), None)
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
        assert response.parse().usage.output_tokens == 2


async def test_a_request_the_engine_refuses_with_529_uses_no_limit(
    tmp_path: Path, clock: FrozenClock
) -> None:
    engine = FakeEngine()
    app = limited_app(tmp_path, tier(rpm=10, itpm=100_000, otpm=10_000), clock, engine)
    async for raw in serve(app):
        assert (await raw.post("/v1/messages", json=body())).status_code == 200
        engine.overloaded = True
        refused = await raw.post("/v1/messages", json=body())
        assert refused.status_code == 529
        assert await headroom(raw) == {
            "requests_per_minute": 9,
            "input_tokens_per_minute": 100_000 - PROMPT_TOKENS,
            "output_tokens_per_minute": 10_000 - 2,
        }  # the first request's, and nothing of the refused one's


async def full_engine(
    tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeEngine]]:
    """A raw client to a server whose engine refuses every request as full."""
    engine = FakeEngine()
    app = limited_app(tmp_path, tier(rpm=10, itpm=100_000, otpm=10_000), clock, engine)
    async for raw in serve(app):
        engine.full = True
        yield raw, engine


async def test_a_full_engine_refuses_before_the_prompt_is_rendered(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async for raw, engine in full_engine(tmp_path, clock):
        refused = await raw.post("/v1/messages", json=body())
        assert refused.status_code == 529
        assert refused.headers["x-should-retry"] == "true"
        assert refused.json()["error"]["type"] == "overloaded_error"
        assert engine.rendered == 0
        assert (await headroom(raw))["requests_per_minute"] == 10


async def test_a_refusal_before_rendering_is_measured_under_its_model(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async for raw, _engine in full_engine(tmp_path, clock):
        assert (await raw.post("/v1/messages", json=body())).status_code == 529
        metrics = (await raw.get("/metrics")).text
    labels = {"model": DEFAULT_MODEL.id, "route": "/v1/messages", "status": "529"}
    assert counter(metrics, "parley_request_seconds_count", **labels) == 1


async def test_an_organization_over_its_monthly_cap_is_refused_until_next_month(
    tmp_path: Path, clock: FrozenClock
) -> None:
    limits = LimitsSettings(
        tiers=[TierSource.model_validate({"name": "capped", "monthly_cap": "0.000001"})],
        default_tier="capped",
    )
    async for raw in serve(limited_app(tmp_path, limits, clock)):
        first = await raw.post("/v1/messages", json=body())
        assert first.status_code == 200  # 4 input and 2 output tokens: $0.0000014
        refused = await raw.post("/v1/messages", json=body())
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["details"] == {"error_code": "enforced_spend_limit_reached"}
        assert "2027-02-01" in error["message"]  # the clock stands in January 2027
        assert refused.headers["x-should-retry"] == "false"
        assert "retry-after" not in refused.headers


async def test_a_ledger_over_the_cap_before_spend_totals_existed_refuses_from_the_start(
    tmp_path: Path, clock: FrozenClock
) -> None:
    limits = LimitsSettings(
        tiers=[TierSource.model_validate({"name": "capped", "monthly_cap": "1"})],
        default_tier="capped",
    )
    settings = Settings(data_dir=tmp_path, limits=limits)
    organization = create_keys(settings)[API_KEY].organization_id
    when = datetime.fromtimestamp(clock.now(), UTC)
    row = ledger_entry(
        organization_id=organization, cost_picodollars=int(PICO), started_at=when, completed_at=when
    )
    engine = connect(settings.resolved_database_url())
    with engine.begin() as conn:  # as a release before spend totals wrote it
        conn.execute(ledger.insert().values(asdict(row)))
    engine.dispose()
    async for raw in serve(fake_app(settings, None, clock)):
        refused = await raw.post("/v1/messages", json=body())
        assert refused.status_code == 429
        assert refused.json()["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}


async def test_reserve_mode_takes_max_tokens_at_admission_and_returns_the_unused_part(
    tmp_path: Path, clock: FrozenClock
) -> None:
    limits = tier(rpm=10, itpm=100_000, otpm=100).model_copy(update={"otpm": "reserve"})
    async for raw in serve(limited_app(tmp_path, limits, clock)):
        response = await raw.post("/v1/messages", json=body(max_tokens=30))
        assert response.json()["usage"]["output_tokens"] == ANSWER_TOKENS
        assert response.headers["anthropic-ratelimit-output-tokens-remaining"] == "70"
        assert (await headroom(raw))["output_tokens_per_minute"] == 100 - ANSWER_TOKENS


async def test_a_workspace_over_its_own_limit_is_refused_while_its_organization_is_not(
    tmp_path: Path, clock: FrozenClock
) -> None:
    settings = Settings(data_dir=tmp_path)
    other = create_keys(settings)[OTHER_WORKSPACE_KEY].workspace_id
    workspaces = {other: ClassLimitsSource(rpm=1)}
    limits = tier(rpm=100, itpm=100_000, otpm=10_000).model_copy(update={"workspaces": workspaces})
    app = fake_app(Settings(data_dir=tmp_path, limits=limits), clock=clock)
    async for raw in serve(app, key=OTHER_WORKSPACE_KEY):
        admitted = await raw.post("/v1/messages", json=body())
        assert admitted.status_code == 200
        assert admitted.headers["anthropic-ratelimit-requests-limit"] == "1"  # the tighter
        refused = await raw.post("/v1/messages", json=body())
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "60")
        default = await raw.post("/v1/messages", json=body(), headers={"x-api-key": API_KEY})
        assert default.status_code == 200
        assert (await headroom(raw))["requests_per_minute"] == 98  # the refusal took none
