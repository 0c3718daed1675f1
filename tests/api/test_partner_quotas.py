"""Partner surfaces' quotas through the pipeline: each surface (driven with the context its
route passes, `BillingContext(surface=..., region=...)`) admits against its own quotas per region
and model, never the first-party tiers, caps or buckets, and sends no `anthropic-ratelimit-*`
headers. Generation is not what these test, so a FakeEngine answers: its prompt here is 4
tokens (`<user> Which valve? <assistant>`) and its answer 7."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.domain.billing import BillingContext
from parley.errors import OverloadedError, RateLimitError
from parley.settings import (
    ClassLimitsSource,
    LimitsSettings,
    QuotaSource,
    Settings,
    TierSource,
)
from tests.fakes import FakeEngine
from tests.helpers import (
    MODEL,
    FrozenClock,
    Pipeline,
    create_keys,
    fake_app,
    serve,
    service_pipeline,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
QUESTION = [{"role": "user", "content": "Which valve?"}]
PROMPT_TOKENS = 4
ANSWER_TOKENS = 7
VERTEX_EU = BillingContext(surface="vertex", region="europe-west1")
BEDROCK_US = BillingContext(surface="bedrock", region="us-east-1")


async def pipeline(
    tmp_path: Path, quotas: list[dict[str, Any]], **settings: Any
) -> AsyncIterator[Pipeline]:
    config = Settings(
        data_dir=tmp_path, quotas=[QuotaSource.model_validate(q) for q in quotas], **settings
    )
    async for running in service_pipeline(config):
        yield running


@pytest.fixture()
async def vertex_rpm(tmp_path: Path) -> AsyncIterator[Pipeline]:
    quotas = [{"surface": "vertex", "region": "europe-west1", "rpm": 2}]
    async for running in pipeline(tmp_path, quotas):
        yield running


async def test_a_vertex_quota_refuses_the_request_over_its_rpm_until_it_refills(
    vertex_rpm: Pipeline,
) -> None:
    await vertex_rpm.send(VERTEX_EU)
    await vertex_rpm.send(VERTEX_EU)
    with pytest.raises(RateLimitError) as refused:
        await vertex_rpm.send(VERTEX_EU)
    assert refused.value.status == 429
    assert refused.value.headers == {"retry-after": "30"}
    assert "vertex quota (rpm)" in refused.value.message
    vertex_rpm.clock.advance(30)
    await vertex_rpm.send(VERTEX_EU)


async def test_a_vertex_quota_of_each_region_is_its_own(vertex_rpm: Pipeline) -> None:
    for _ in range(2):
        await vertex_rpm.send(VERTEX_EU)
    await vertex_rpm.send(BillingContext(surface="vertex", region="us-east5"))  # no quota there
    await vertex_rpm.send(BillingContext(surface="vertex", region="global"))


async def test_one_surface_never_drains_another(tmp_path: Path) -> None:
    quotas = [
        {"surface": "vertex", "region": "*", "rpm": 1},
        {"surface": "bedrock", "region": "*", "rpm": 1},
    ]
    async for running in pipeline(tmp_path, quotas):
        await running.send(BillingContext(surface="vertex", region="us"))
        with pytest.raises(RateLimitError):
            await running.send(BillingContext(surface="vertex", region="us"))
        await running.send(BillingContext(surface="bedrock", region="us"))
        await running.send(BillingContext(surface="vertex", region="eu"))
        await running.send(None)  # the first-party API


@pytest.mark.parametrize("limiter", ["memory", "redis"])
async def test_a_bedrock_quota_reserves_max_tokens_and_returns_the_unused_part(
    tmp_path: Path, limiter: str
) -> None:
    quotas = [{"surface": "bedrock", "region": "us-east-1", "model": "smollm2", "output_tpm": 100}]
    url = REDIS_URL if limiter == "redis" else None
    async for running in pipeline(tmp_path, quotas, limiter_url=url):
        first = await running.admit(BEDROCK_US, max_tokens=60)
        with pytest.raises(RateLimitError) as refused:
            await running.admit(BEDROCK_US, max_tokens=60)  # 60 + 60 reserved > 100
        assert "bedrock quota (output_tpm)" in refused.value.message
        await running.service.create(first)  # 7 generated: 53 come back
        second = await running.admit(BEDROCK_US, max_tokens=60)
        await running.service.create(second)
        with pytest.raises(RateLimitError):
            await running.admit(BEDROCK_US, max_tokens=100 - 2 * ANSWER_TOKENS + 1)
        await running.send(BEDROCK_US, max_tokens=100 - 2 * ANSWER_TOKENS)


async def test_a_vertex_quota_counts_output_as_it_is_generated(tmp_path: Path) -> None:
    quotas = [{"surface": "vertex", "region": "europe-west1", "output_tpm": 10}]
    async for running in pipeline(tmp_path, quotas):
        first = await running.admit(VERTEX_EU, max_tokens=60)  # takes one token, not 60
        second = await running.admit(VERTEX_EU, max_tokens=60)
        await running.service.create(first)
        await running.service.create(second)  # 14 generated: the bucket is in debt
        with pytest.raises(RateLimitError):
            await running.admit(VERTEX_EU, max_tokens=60)


async def test_tpm_counts_input_and_output_together(tmp_path: Path) -> None:
    quotas = [{"surface": "bedrock", "tpm": PROMPT_TOKENS + 20 + PROMPT_TOKENS}]
    async for running in pipeline(tmp_path, quotas):
        await running.admit(BEDROCK_US, max_tokens=20)
        with pytest.raises(RateLimitError) as refused:
            await running.admit(BEDROCK_US, max_tokens=1)
        assert "bedrock quota (tpm)" in refused.value.message


async def test_partner_surfaces_skip_the_first_party_limits_and_send_no_ratelimit_headers(
    tmp_path: Path,
) -> None:
    limits = LimitsSettings(
        tiers=[
            TierSource(
                name="tiny",
                monthly_cap=0,
                classes={"default": ClassLimitsSource(rpm=1, itpm=1, otpm=1)},
            )
        ],
        default_tier="tiny",
    )
    async for running in pipeline(tmp_path, [], limits=limits):
        with pytest.raises(RateLimitError) as capped:
            await running.send(None)  # the first-party API: over its spend cap at once
        assert capped.value.details == {"error_code": "enforced_spend_limit_reached"}
        for billing in (VERTEX_EU, BEDROCK_US) * 3:
            admitted = await running.send(billing)
            assert admitted.headers == {}


async def test_a_first_party_response_still_carries_its_ratelimit_headers(tmp_path: Path) -> None:
    quotas = [{"surface": "vertex", "rpm": 5}]
    async for running in pipeline(tmp_path, quotas):
        admitted = await running.send(None)
        assert admitted.headers["anthropic-ratelimit-requests-limit"] == "1000"


@pytest.fixture()
async def first_party_over_quota(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client whose vertex quota is 1 request: first-party traffic never touches it."""
    config = Settings(data_dir=tmp_path, quotas=[QuotaSource(surface="vertex", rpm=1)])
    create_keys(config)
    async for raw in serve(fake_app(config, clock=FrozenClock())):
        yield raw


async def test_first_party_traffic_never_uses_a_partner_quota(
    first_party_over_quota: httpx.AsyncClient,
) -> None:
    body = {"model": MODEL, "max_tokens": 2, "messages": QUESTION}
    for _ in range(3):
        response = await first_party_over_quota.post("/v1/messages", json=body)
        assert response.status_code == 200


async def test_a_request_the_engine_refuses_with_529_gives_its_quota_back(tmp_path: Path) -> None:
    engine = FakeEngine()
    settings = Settings(data_dir=tmp_path, quotas=[QuotaSource(surface="bedrock", rpm=1)])
    async for running in service_pipeline(settings, engine):
        engine.overloaded = True
        with pytest.raises(OverloadedError):
            await running.admit(BEDROCK_US)
        engine.overloaded = False
        await running.send(BEDROCK_US)
        with pytest.raises(RateLimitError):
            await running.send(BEDROCK_US)
