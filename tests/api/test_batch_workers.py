"""Several batch workers on one PostgreSQL queue: two replicas (each an app with its own
database connections and engine) share one batch, and no request runs twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx2
import pytest

from parley.settings import BatchesSettings, Settings
from tests.fakes import FakeEngine
from tests.helpers import API_KEY, MODEL, create_keys, fake_app
from tests.postgres import postgres_schema


@pytest.fixture()
def database_url() -> AsyncIterator[str]:
    with postgres_schema() as url:
        yield url  # type: ignore[misc]


async def test_two_workers_share_a_batch_and_run_no_request_twice(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        batches=BatchesSettings(poll_seconds=0.01, concurrency=4),
    )
    create_keys(settings)
    engines = [FakeEngine(), FakeEngine()]
    apps = [fake_app(settings, engine) for engine in engines]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        client = anthropic.AsyncAnthropic(
            api_key=API_KEY,
            base_url="http://parley",
            http_client=httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=apps[0]), base_url="http://parley"
            ),
            max_retries=0,
        )
        body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "?"}]}
        created = await client.messages.batches.create(
            requests=[{"custom_id": f"r{i}", "params": body} for i in range(60)]
        )
        for _ in range(1000):
            batch = await client.messages.batches.retrieve(created.id)
            if batch.processing_status == "ended":
                break
            await asyncio.sleep(0.02)
        decoder = await client.messages.batches.results(created.id)
        lines = [line async for line in decoder]
    assert batch.request_counts.succeeded == 60
    assert sorted(line.custom_id for line in lines) == sorted(f"r{i}" for i in range(60))
    ran = [len(engine.requests) for engine in engines]
    assert sum(ran) == 60
    assert min(ran) > 0, f"one worker ran them all: {ran}"
