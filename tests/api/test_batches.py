"""Message Batches through the official SDK (`client.messages.batches.*`), on an app in this
process whose engine is a FakeEngine: what is under test is the queue, the worker and the
API around generation, not the model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from fastapi import FastAPI

from parley.domain.ports import GenerateRequest
from parley.settings import BatchesSettings, LimitsSettings, Settings, TierSource
from tests.fakes import FakeEngine, FakeStream
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    FakeClock,
    billed,
    create_keys,
    fake_app,
)

QUESTION = {"role": "user", "content": "Which valve?"}


def params(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 20, "messages": [QUESTION]} | fields


def requests(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"custom_id": f"q-{i}", "params": params(**fields)} for i in range(n)]


class FakeGatedEngine(FakeEngine):
    """A FakeEngine whose generations wait for `open` before their first token, so a test
    can hold requests running while it cancels or expires their batch."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()

    def generate(self, request: GenerateRequest) -> FakeStream:
        stream = super().generate(request)
        gate, events = self.open, stream._events

        async def gated() -> Any:
            await gate.wait()
            async for event in events:
                yield event

        stream._events = gated()
        return stream


class Running:
    def __init__(self, app: FastAPI, clock: FakeClock, engine: FakeEngine) -> None:
        self.app, self.clock, self.engine = app, clock, engine

    def sdk(self, key: str = API_KEY) -> anthropic.AsyncAnthropic:
        transport = httpx2.ASGITransport(app=self.app)
        return anthropic.AsyncAnthropic(
            api_key=key,
            base_url="http://parley",
            http_client=httpx2.AsyncClient(transport=transport, base_url="http://parley"),
            max_retries=0,
        )

    def raw(self, key: str = API_KEY) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://parley",
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )


Launch = Callable[..., Any]


@pytest.fixture()
async def launch(tmp_path: Path) -> AsyncIterator[Launch]:
    """Starts an app (its lifespan, so its batch worker, running) with these settings."""
    started: list[Any] = []

    async def start(engine: FakeEngine | None = None, **overrides: Any) -> Running:
        batches = BatchesSettings(poll_seconds=0.02, **overrides.pop("batches", {}))
        settings = Settings(data_dir=tmp_path, batches=batches, **overrides)
        create_keys(settings)
        clock = FakeClock()
        served = engine or FakeEngine()
        app = fake_app(settings, served, clock)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        started.append(context)
        return Running(app, clock, served)

    yield start
    for context in reversed(started):
        await context.__aexit__(None, None, None)


async def ended(client: anthropic.AsyncAnthropic, batch_id: str) -> Any:
    for _ in range(500):
        batch = await client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch_id} did not end")


async def results(client: anthropic.AsyncAnthropic, batch_id: str) -> dict[str, Any]:
    decoder = await client.messages.batches.results(batch_id)
    return {line.custom_id: line.result async for line in decoder}


async def test_a_new_batch_is_in_progress_with_every_request_processing(launch: Launch) -> None:
    running = await launch(FakeGatedEngine())
    batch = await running.sdk().messages.batches.create(requests=requests(3))
    assert batch.id.startswith("msgbatch_01")
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.model_dump() == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert batch.expires_at - batch.created_at == timedelta(hours=24)
    assert (batch.ended_at, batch.cancel_initiated_at, batch.archived_at) == (None, None, None)
    assert batch.results_url is None


async def test_an_ended_batch_has_one_succeeded_result_per_custom_id(launch: Launch) -> None:
    running = await launch()
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(5))
    batch = await ended(client, created.id)
    assert batch.request_counts.succeeded == 5
    assert batch.request_counts.processing == 0
    assert batch.ended_at is not None
    assert batch.results_url == f"http://parley/v1/messages/batches/{batch.id}/results"
    got = await results(client, batch.id)
    assert sorted(got) == [f"q-{i}" for i in range(5)]
    message = got["q-0"].message
    assert got["q-0"].type == "succeeded"
    assert message.content[0].text == "This is the fake engine's scripted answer."
    assert message.usage.service_tier == "batch"
    assert message.usage.input_tokens == 4  # <user> Which valve? <assistant>


async def test_results_stream_as_jsonl_one_line_per_request(launch: Launch) -> None:
    running = await launch()
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(3))
    await ended(client, created.id)
    async with running.raw() as raw:
        response = await raw.get(f"/v1/messages/batches/{created.id}/results")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["custom_id"] for line in lines] == ["q-0", "q-1", "q-2"]
    assert {line["result"]["type"] for line in lines} == {"succeeded"}


async def test_an_invalid_request_errors_with_the_messages_apis_error(launch: Launch) -> None:
    running = await launch()
    client = running.sdk()
    bad = params(messages=[{"role": "robot", "content": "hi"}])
    unknown = params(model="no-such-model")
    created = await client.messages.batches.create(
        requests=[
            {"custom_id": "good", "params": params()},
            {"custom_id": "bad-role", "params": bad},
            {"custom_id": "unknown-model", "params": unknown},
        ]
    )
    batch = await ended(client, created.id)
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (1, 2)
    got = await results(client, created.id)
    async with running.raw() as raw:
        for custom_id, body in (("bad-role", bad), ("unknown-model", unknown)):
            direct = (await raw.post("/v1/messages", json=body)).json()["error"]
            assert got[custom_id].type == "errored"
            assert got[custom_id].error.error.model_dump(exclude_none=True) == direct


@pytest.mark.parametrize(
    ("batch_requests", "message"),
    [
        ([], "requests: List should have at least 1 item after validation"),
        (
            [{"custom_id": "a b", "params": params()}],
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            [{"custom_id": "x" * 65, "params": params()}],
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            [{"custom_id": "a", "params": params()}, {"custom_id": "a", "params": params()}],
            "requests.1.custom_id: Duplicate custom_id 'a'; "
            "each custom_id must be unique within a batch",
        ),
        (
            [{"custom_id": "a", "params": params(stream=True)}],
            "requests.0.params.stream: Streaming is not supported in batches",
        ),
        (
            [{"custom_id": "a", "params": params(max_tokens=0)}],
            "requests.0.params.max_tokens: `max_tokens: 0` (pre-warming) is not supported "
            "in batches",
        ),
        (
            [{"custom_id": "a", "params": params(speed="fast")}],
            "requests.0.params.speed: `speed` is not supported in batches",
        ),
    ],
)
async def test_what_is_wrong_with_the_batch_itself_is_a_400(
    launch: Launch, batch_requests: list[Any], message: str
) -> None:
    running = await launch()
    with pytest.raises(anthropic.BadRequestError) as refused:
        await running.sdk().messages.batches.create(requests=batch_requests)
    assert refused.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
        "request_id": refused.value.request_id,
    }


async def test_more_than_100000_requests_is_a_413(launch: Launch) -> None:
    running = await launch()
    many = [{"custom_id": f"r{i}", "params": {}} for i in range(100_001)]
    async with running.raw() as raw:
        response = await raw.post("/v1/messages/batches", json={"requests": many})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


async def test_a_body_over_the_byte_limit_is_a_413(launch: Launch) -> None:
    running = await launch(batches={"max_bytes": 2048})
    async with running.raw() as raw:
        response = await raw.post("/v1/messages/batches", json={"requests": requests(40)})
    assert response.status_code == 413


async def test_the_list_pages_newest_first(launch: Launch) -> None:
    running = await launch(FakeGatedEngine())
    client = running.sdk()
    made = []
    for _ in range(5):
        made.append((await client.messages.batches.create(requests=requests(1))).id)
        running.clock.advance(1)
    first = await client.messages.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2]
    assert first.has_more is True
    assert [b.id async for b in await client.messages.batches.list(limit=2)] == made[::-1]


async def test_cancel_ends_unstarted_requests_canceled_and_lets_running_ones_finish(
    launch: Launch,
) -> None:
    engine = FakeGatedEngine()
    running = await launch(engine, batches={"concurrency": 1})
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(4))
    while not engine.requests:
        await asyncio.sleep(0.01)
    canceling = await client.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    engine.open.set()
    batch = await ended(client, created.id)
    assert (batch.request_counts.succeeded, batch.request_counts.canceled) == (1, 3)
    got = await results(client, created.id)
    assert got["q-0"].type == "succeeded"
    assert {got[f"q-{i}"].type for i in (1, 2, 3)} == {"canceled"}


async def test_a_batch_past_expires_at_ends_its_unfinished_requests_expired(
    launch: Launch,
) -> None:
    engine = FakeGatedEngine()
    running = await launch(engine, batches={"concurrency": 1})
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(3))
    while not engine.requests:
        await asyncio.sleep(0.01)
    running.clock.advance(24 * 3600 + 1)
    engine.open.set()
    batch = await ended(client, created.id)
    assert (batch.request_counts.succeeded, batch.request_counts.expired) == (1, 2)
    assert {r.type for r in (await results(client, created.id)).values()} == {
        "succeeded",
        "expired",
    }


async def test_results_are_deleted_after_the_retention_period(launch: Launch) -> None:
    running = await launch(batches={"retention_seconds": 3600})
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(2))
    await ended(client, created.id)
    running.clock.advance(3601)
    for _ in range(200):
        batch = await client.messages.batches.retrieve(created.id)
        if batch.archived_at is not None:
            break
        await asyncio.sleep(0.02)
    assert batch.archived_at is not None
    assert batch.results_url is None
    assert batch.request_counts.succeeded == 2  # the tallies outlive the results
    async with running.raw() as raw:
        response = await raw.get(f"/v1/messages/batches/{created.id}/results")
    assert response.status_code == 404


async def test_delete_refuses_a_processing_batch_and_removes_an_ended_one(
    launch: Launch,
) -> None:
    engine = FakeGatedEngine()
    running = await launch(engine)
    client = running.sdk()
    created = await client.messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.batches.delete(created.id)
    engine.open.set()
    await ended(client, created.id)
    deleted = await client.messages.batches.delete(created.id)
    assert (deleted.id, deleted.type) == (created.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve(created.id)


async def test_another_workspace_sees_no_batch_and_an_admin_sees_all(launch: Launch) -> None:
    running = await launch()
    mine = await running.sdk().messages.batches.create(requests=requests(1))
    other = running.sdk(OTHER_WORKSPACE_KEY)
    theirs = await other.messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.NotFoundError):
        await other.messages.batches.retrieve(mine.id)
    with pytest.raises(anthropic.NotFoundError):
        await other.messages.batches.cancel(mine.id)
    assert [b.id async for b in other.messages.batches.list()] == [theirs.id]
    admin = running.sdk(ADMIN_KEY)
    assert {b.id async for b in admin.messages.batches.list()} == {mine.id, theirs.id}
    assert (await admin.messages.batches.retrieve(mine.id)).id == mine.id


def tiers(**fields: Any) -> LimitsSettings:
    return LimitsSettings(tiers=[TierSource(name="start", **fields)])


async def test_a_batch_over_the_processing_queue_limit_is_a_429(launch: Launch) -> None:
    running = await launch(FakeGatedEngine(), limits=tiers(batch_queue=5))
    client = running.sdk()
    await client.messages.batches.create(requests=requests(3))
    with pytest.raises(anthropic.RateLimitError) as refused:
        await client.messages.batches.create(requests=requests(3))
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    await client.messages.batches.create(requests=requests(2))


async def test_batch_requests_use_no_per_minute_bucket(launch: Launch) -> None:
    running = await launch(limits=tiers(classes={"default": {"rpm": 1}}))
    client = running.sdk()
    batch = await ended(client, (await client.messages.batches.create(requests=requests(4))).id)
    assert batch.request_counts.succeeded == 4
    message = await client.messages.create(**params())  # the one request a minute is left
    assert message.usage.service_tier == "standard"


async def test_a_reached_spend_cap_errors_the_remaining_requests(launch: Launch) -> None:
    running = await launch(limits=tiers(monthly_cap="0"))
    client = running.sdk()
    batch = await ended(client, (await client.messages.batches.create(requests=requests(2))).id)
    assert batch.request_counts.errored == 2
    error = (await results(client, batch.id))["q-0"].error.error
    assert error.type == "rate_limit_error"
    assert error.details == {"error_code": "enforced_spend_limit_reached"}  # type: ignore[attr-defined]


async def test_only_succeeded_requests_are_billed_once_each_under_their_own_id(
    launch: Launch,
) -> None:
    running = await launch()
    client = running.sdk()
    created = await client.messages.batches.create(
        requests=[
            {"custom_id": "ok", "params": params()},
            {"custom_id": "bad", "params": params(model="no-such-model")},
        ]
    )
    await ended(client, created.id)
    got = await results(client, created.id)
    now = running.clock.now()
    principal = await running.app.state.keys.authenticate(API_KEY)
    rows = await running.app.state.ledger.read(
        principal.organization_id,
        datetime.fromtimestamp(now - 3600, UTC),
        datetime.fromtimestamp(now + 3600, UTC),
    )
    assert [(r.message_id, r.service_tier) for r in rows] == [(got["ok"].message.id, "batch")]


LONG = " ".join(f"word{i}" for i in range(1100))  # past the 1,024-token cache minimum


@pytest.mark.parametrize("cached", [False, True])
async def test_a_batch_request_costs_exactly_half_the_same_messages_request(
    launch: Launch, cached: bool
) -> None:
    running = await launch()
    client = running.sdk()
    body = params(
        system=[{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
        if cached
        else LONG
    )
    if cached:
        await client.messages.create(**body)  # writes the cache both requests below read
    async with running.raw() as raw:
        direct = await raw.post("/v1/messages", json=body)
    standard = billed(running.app, direct.headers["request-id"])
    created = await client.messages.batches.create(requests=[{"custom_id": "a", "params": body}])
    await ended(client, created.id)
    message = (await results(client, created.id))["a"].message
    batch = next(
        e
        for e in await running.app.state.ledger.read(
            standard.organization_id,
            standard.started_at - timedelta(hours=1),
            standard.completed_at + timedelta(hours=1),
        )
        if e.message_id == message.id
    )
    assert batch.cache_read_tokens == standard.cache_read_tokens == (1101 if cached else 0)
    assert batch.uncached_input_tokens == standard.uncached_input_tokens
    assert batch.output_tokens == standard.output_tokens
    assert batch.cost_picodollars * 2 == standard.cost_picodollars
    assert batch.cost_read_picodollars * 2 == standard.cost_read_picodollars
