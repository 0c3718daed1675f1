"""Regions through the pipeline: a region or geo that does not exist, or does not serve the
model, is a 404 before anything is admitted; every request reaches the engine with the regions
it may run in; the ledger keeps the surface, region and geo. A FakeEngine answers (what is
tested is where a request goes, not what it says)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.app import create_app
from parley.domain.billing import BillingContext
from parley.errors import NotFoundError
from parley.settings import ModelSource, RegionSource, Settings
from parley.wire.messages import CountTokensParams
from tests.fakes import FakeEngine
from tests.helpers import MODEL, Pipeline, create_keys, fake_app, serve, service_pipeline

OTHER = "other-model-20260101"  # served by the FakeEngine like every entry
REGIONS = {
    "us-east5": RegionSource(geo="us"),
    "europe-west1": RegionSource(geo="eu", models=["smollm2"]),
    "europe-west4": RegionSource(geo="eu", models=[OTHER]),
}
QUESTION = [{"role": "user", "content": "Which valve?"}]


def regional(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        models=[ModelSource(id=OTHER, path=tmp_path / "other.gguf")],
        regions=REGIONS,
    )


@pytest.fixture()
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture()
async def table(tmp_path: Path, engine: FakeEngine) -> AsyncIterator[Pipeline]:
    async for running in service_pipeline(regional(tmp_path), engine):
        yield running


@pytest.fixture()
async def raw(tmp_path: Path, engine: FakeEngine) -> AsyncIterator[httpx.AsyncClient]:
    settings = regional(tmp_path)
    create_keys(settings)
    async for client in serve(fake_app(settings, engine)):
        yield client


def at(surface: Any, region: str, geo: str | None = None) -> BillingContext:
    return BillingContext(surface=surface, region=region, geo=geo)


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 2, "messages": QUESTION, **extra}


@pytest.mark.parametrize(
    ("billing", "model", "regions"),
    [
        (at("vertex", "us-east5"), MODEL, {"us-east5"}),
        (at("vertex", "eu"), MODEL, {"europe-west1"}),
        (at("vertex", "eu"), OTHER, {"europe-west4"}),
        (at("vertex", "global"), MODEL, {"us-east5", "europe-west1"}),
        (at("bedrock", "us-east5", "us"), MODEL, {"us-east5"}),
        (at("bedrock", "us-east5", "global"), OTHER, {"us-east5", "europe-west4"}),
        (BillingContext(geo="eu"), MODEL, {"europe-west1"}),  # first-party inference_geo
        (None, OTHER, {"us-east5", "europe-west4"}),
    ],
)  # fmt: skip
async def test_every_request_reaches_the_engine_with_the_regions_it_may_run_in(
    table: Pipeline,
    engine: FakeEngine,
    billing: BillingContext | None,
    model: str,
    regions: set[str],
) -> None:
    await table.send(billing, model=model)
    assert engine.requests[-1].regions == frozenset(regions)


@pytest.mark.parametrize(
    ("billing", "message"),
    [
        (at("vertex", "asia-east1"), "region 'asia-east1' does not exist on this server"),
        (at("vertex", "europe-west4"), f"model {MODEL} is not served in region 'europe-west4'"),
        (at("bedrock", "us-east5", "apac"), "geo 'apac' cannot be reached from region 'us-east5'"),
        (at("bedrock", "eu-west-3", "eu"), "region 'eu-west-3' does not exist on this server"),
        (at("claude_api", "global", "apac"), "no region of geo 'apac' exists on this server"),
    ],
)  # fmt: skip
async def test_a_region_that_does_not_exist_or_serve_the_model_is_a_404_before_admission(
    table: Pipeline, engine: FakeEngine, billing: BillingContext, message: str
) -> None:
    with pytest.raises(NotFoundError) as refused:
        await table.admit(billing)
    assert (refused.value.status, refused.value.message) == (404, message)
    assert engine.requests == []


async def test_counting_tokens_in_a_region_that_does_not_exist_is_a_404(table: Pipeline) -> None:
    params = CountTokensParams.model_validate({"model": MODEL, "messages": QUESTION})
    billing = at("vertex", "asia-east1")
    assert await table.service.count_tokens(params, None) == 4
    with pytest.raises(NotFoundError):
        await table.service.count_tokens(params, None, billing)


async def test_a_first_party_inference_geo_without_a_region_is_a_404_envelope(
    raw: httpx.AsyncClient, engine: FakeEngine
) -> None:
    response = await raw.post("/v1/messages", json=body(inference_geo="apac"))
    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "message": "no region of geo 'apac' exists on this server",
    }
    assert engine.requests == []


async def test_a_first_party_request_goes_to_the_regions_of_its_inference_geo(
    raw: httpx.AsyncClient, engine: FakeEngine
) -> None:
    response = await raw.post("/v1/messages", json=body(inference_geo="us"))
    assert response.status_code == 200
    assert engine.requests[-1].regions == frozenset({"us-east5"})


async def test_without_a_regions_table_every_region_is_served_here(tmp_path: Path) -> None:
    engine = FakeEngine()
    async for running in service_pipeline(Settings(data_dir=tmp_path), engine):
        await running.send(at("vertex", "asia-east1"))
        await running.send(at("bedrock", "eu-west-3", "eu"))
        await running.send(None)
    assert [r.regions for r in engine.requests] == [frozenset({"asia-east1"}), None, None]


@pytest.mark.parametrize(
    ("models", "quotas", "prices", "table"),
    [
        ({"eu": {"geo": "eu", "models": ["no-such-model"]}}, [], [], "regions.eu"),
        ({}, [{"surface": "vertex", "model": "no-such-model", "rpm": 1}], [], "quotas"),
        ({}, [], [{"model": "no-such-model", "multiplier": "1"}], "price_overrides"),
    ],
)
def test_an_unknown_model_in_the_config_stops_start_up(
    tmp_path: Path, models: Any, quotas: Any, prices: Any, table: str
) -> None:
    settings = Settings.model_validate(
        {"data_dir": tmp_path, "regions": models, "quotas": quotas, "price_overrides": prices}
    )
    with pytest.raises(ValueError, match=f"{table}: model 'no-such-model' is not in the catalog"):
        create_app(settings)


def test_global_as_a_configured_region_stops_start_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, regions={"global": RegionSource(geo="us")})
    with pytest.raises(ValueError, match="`global` is not a region or a geo"):
        create_app(settings)
