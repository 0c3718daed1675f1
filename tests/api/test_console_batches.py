"""The console's Batches page over HTTP, in process (FakeEngine): batches made with the
official SDK listed newest first with their counts, results downloaded as the SDK reads them,
admin keys only, and the empty state."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from fastapi import FastAPI

from parley.settings import BatchesSettings, Settings
from tests.api.test_batches import FakeGatedEngine
from tests.api.test_console import sign_in
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    create_keys,
    fake_app,
    serve,
)

QUESTION = {"role": "user", "content": "Which valve?"}


@pytest.fixture()
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path, batches=BatchesSettings(poll_seconds=0.02))
    create_keys(settings)
    return fake_app(settings)


@pytest.fixture()
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(app, key=""):
        yield client


def sdk(app: FastAPI, key: str = API_KEY) -> anthropic.AsyncAnthropic:
    transport = httpx2.ASGITransport(app=app)
    return anthropic.AsyncAnthropic(
        api_key=key,
        base_url="http://parley",
        http_client=httpx2.AsyncClient(transport=transport, base_url="http://parley"),
        max_retries=0,
    )


async def ended_batch(client: anthropic.AsyncAnthropic, n: int, bad: int = 0) -> Any:
    """A batch of `n` good requests and `bad` with an unknown model, once it has ended."""
    good: dict[str, Any] = {"model": MODEL, "max_tokens": 20, "messages": [QUESTION]}
    requests: list[Any] = [{"custom_id": f"q-{i}", "params": good} for i in range(n)]
    requests += [{"custom_id": f"bad-{i}", "params": good | {"model": "nope"}} for i in range(bad)]
    created = await client.messages.batches.create(requests=requests)
    for _ in range(500):
        batch = await client.messages.batches.retrieve(created.id)
        if batch.processing_status == "ended":
            return batch
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {created.id} did not end")


def row_of(page: str, batch_id: str) -> str:
    match = re.search(rf'<tr data-batch="{batch_id}">(.*?)</tr>', page, re.S)
    assert match, f"{batch_id} is not listed"
    return match.group(1)


def counts_in(row: str) -> dict[str, int]:
    return {
        state: int(count.replace(",", ""))
        for state, count in re.findall(r'data-state="(\w+)">([\d,]+) \w+<', row)
    }


async def test_the_page_lists_batches_newest_first(app: FastAPI, raw: httpx.AsyncClient) -> None:
    client = sdk(app)
    first = await ended_batch(client, 1)
    second = await ended_batch(client, 1)
    await sign_in(raw)
    page = (await raw.get("/console/batches")).text
    assert re.findall(r'<tr data-batch="(msgbatch_[^"]+)">', page) == [second.id, first.id]


async def test_a_batch_shows_its_workspace_status_and_counts(
    app: FastAPI, raw: httpx.AsyncClient
) -> None:
    batch = await ended_batch(sdk(app), 3, bad=1)
    await sign_in(raw)
    row = row_of((await raw.get("/console/batches")).text, batch.id)
    assert counts_in(row) == {"succeeded": 3, "errored": 1}
    assert "of 4<" in row
    assert ">default<" in row and ">ended<" in row
    assert 'class="b-succeeded" style="width: 75.00%"' in row
    assert 'class="b-errored" style="width: 25.00%"' in row


async def test_the_download_holds_the_results_the_sdk_reads(
    app: FastAPI, raw: httpx.AsyncClient
) -> None:
    client = sdk(app)
    batch = await ended_batch(client, 2, bad=1)
    await sign_in(raw)
    response = await raw.get(f"/console/batches/{batch.id}/results")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{batch.id}_results.jsonl"'
    )
    downloaded = [json.loads(line) for line in response.text.splitlines()]
    read = await client.messages.batches.results(batch.id)
    assert downloaded == [line.to_dict() async for line in read]
    assert [line["custom_id"] for line in downloaded] == ["q-0", "q-1", "bad-0"]


async def test_a_running_batch_shows_live_counts_and_no_download(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, batches=BatchesSettings(poll_seconds=0.02))
    create_keys(settings)
    engine = FakeGatedEngine()
    app = fake_app(settings, engine)
    async for raw in serve(app, key=""):
        good = {"model": MODEL, "max_tokens": 20, "messages": [QUESTION]}
        requests: list[Any] = [{"custom_id": f"q-{i}", "params": good} for i in range(2)]
        batch = await sdk(app).messages.batches.create(requests=requests)
        await sign_in(raw)
        row = row_of((await raw.get("/console/batches")).text, batch.id)
        assert counts_in(row) == {"processing": 2}
        assert ">in progress<" in row and "/results" not in row
        refused = await raw.get(f"/console/batches/{batch.id}/results")
        assert refused.status_code == 404
        assert "has not finished processing" in refused.text
        engine.open.set()


async def test_a_workspace_key_cannot_reach_the_page_or_the_results(
    app: FastAPI, raw: httpx.AsyncClient
) -> None:
    batch = await ended_batch(sdk(app), 1)
    await sign_in(raw, API_KEY)
    for path in ["/console/batches", f"/console/batches/{batch.id}/results"]:
        response = await raw.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/console/sign-in")


async def test_an_admin_sees_the_batches_of_every_workspace(
    app: FastAPI, raw: httpx.AsyncClient
) -> None:
    batch = await ended_batch(sdk(app, OTHER_WORKSPACE_KEY), 1)
    await sign_in(raw, ADMIN_KEY)
    row = row_of((await raw.get("/console/batches")).text, batch.id)
    assert counts_in(row) == {"succeeded": 1}
    assert ">other<" in row


async def test_with_no_batches_the_page_says_how_to_create_one(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    page = (await raw.get("/console/batches")).text
    assert "No batches yet" in page
    assert "<code>parley batches create FILE.jsonl</code>" in page
    assert "client.messages.batches.create" in page
