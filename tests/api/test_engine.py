"""The scheduler and the physical prefix cache, observed through a real server and /metrics."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import llama_cpp
import pytest

from parley.settings import Settings
from parley.store.db import connect
from parley.store.keys import KeyStore
from tests.helpers import MODEL, blocking, counter, in_process

LONG = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]
# greedy SmolLM2 keeps counting for hundreds of tokens: a request that surely runs a while
COUNTING = [
    {"role": "user", "content": "List the numbers from 1 to 1000 in digits, separated by commas."}
]


def prefill_and_reused(http: httpx.Client) -> tuple[float, float]:
    text = http.get("/metrics").text
    return (
        counter(text, "parley_engine_tokens_total", phase="prefill"),
        counter(text, "parley_prefix_cache_reused_tokens_total"),
    )


def test_second_turn_prefills_only_the_new_tokens(
    client: anthropic.Anthropic, http: httpx.Client
) -> None:
    first = [{"role": "user", "content": "Prefix reuse check 7731: name a colour."}]
    second = [
        *first,
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Why?"},
    ]
    first_tokens = client.messages.count_tokens(model=MODEL, messages=first).input_tokens
    second_tokens = client.messages.count_tokens(model=MODEL, messages=second).input_tokens
    client.messages.create(model=MODEL, max_tokens=1, messages=first)  # caches exactly `first`
    prefill_before, reused_before = prefill_and_reused(http)
    client.messages.create(model=MODEL, max_tokens=1, messages=second)
    prefill_after, reused_after = prefill_and_reused(http)
    assert reused_after - reused_before == first_tokens
    assert prefill_after - prefill_before == second_tokens - first_tokens


def test_another_workspace_never_reuses_a_cached_prefix(
    client: anthropic.Anthropic, base_url: str, settings: Settings, http: httpx.Client
) -> None:
    secret = "sk-ant-api03-parley-test-fresh-workspace"
    blocking(
        KeyStore(connect(settings.resolved_database_url())).create(
            name="fresh", workspace="fresh-workspace", secret=secret
        )
    )
    theirs = anthropic.Anthropic(base_url=base_url, api_key=secret, max_retries=0)
    messages = [{"role": "user", "content": "Isolation check 5512: name a fruit."}]
    prompt = client.messages.count_tokens(model=MODEL, messages=messages).input_tokens
    client.messages.create(model=MODEL, max_tokens=1, messages=messages)
    prefill_before, reused_before = prefill_and_reused(http)
    theirs.messages.create(model=MODEL, max_tokens=1, messages=messages)
    prefill_after, reused_after = prefill_and_reused(http)
    assert reused_after - reused_before == 0
    assert prefill_after - prefill_before == prompt


async def first_token_time(stream: AsyncIterator[anthropic.types.MessageStreamEvent]) -> float:
    async for event in stream:
        if event.type == "content_block_delta":
            return time.perf_counter()
    raise AssertionError("no token arrived")


async def test_a_later_request_starts_while_a_long_one_is_decoding(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    async with async_client.messages.stream(model=MODEL, max_tokens=300, messages=LONG) as long:
        await first_token_time(long)
        short = await async_client.messages.create(model=MODEL, max_tokens=2, messages=LONG)
        short_done = time.perf_counter()
        final = await long.get_final_message()
        long_done = time.perf_counter()
    assert short.usage.output_tokens == 2
    assert final.usage.output_tokens == 300 or final.stop_reason == "end_turn"
    assert short_done < long_done


async def test_a_long_prompt_does_not_freeze_a_running_stream(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    manual = " ".join(f"Rule {i}: every player keeps their own score card." for i in range(120))
    arrivals: list[float] = []
    async with async_client.messages.stream(model=MODEL, max_tokens=400, messages=LONG) as running:

        async def collect() -> None:
            async for event in running:
                if event.type == "content_block_delta":
                    arrivals.append(time.perf_counter())

        collector = asyncio.create_task(collect())
        while not arrivals:
            await asyncio.sleep(0.01)
        submitted = time.perf_counter()
        await async_client.messages.create(
            model=MODEL, max_tokens=1, system=manual, messages=[{"role": "user", "content": "?"}]
        )
        answered = time.perf_counter()
        await collector
    during = [t for t in arrivals if submitted < t < answered]
    assert len(during) >= 2  # chunked prefill: the stream kept getting tokens meanwhile


@pytest.fixture()
async def tiny_queue(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second app whose engine runs one sequence and queues at most one more (however long
    it would wait)."""
    async for raw in in_process(
        tmp_path, threads=1, kv_cells=4096, max_sequences=1, queue_limit=1, max_queue_wait_s=600
    ):
        yield raw


@pytest.fixture()
async def impatient(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second app whose engine runs one sequence and admits only what starts within 50 ms."""
    async for raw in in_process(
        tmp_path, threads=1, kv_cells=4096, max_sequences=1, max_queue_wait_s=0.05
    ):
        yield raw


@pytest.fixture()
async def small_cache(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second app whose KV cells hold one ~1,100-token prefix at a time."""
    async for raw in in_process(
        tmp_path, threads=2, kv_cells=2048, max_sequences=1, cache_ram_mb=256
    ):
        yield raw


def manual_request(topic: str) -> dict[str, object]:
    """A ~1,100-token system text about `topic`, and a two-token answer."""
    manual = " ".join(f"{topic} fact {i} is that the sky is blue." for i in range(90))
    return {"model": MODEL, "max_tokens": 2, "system": manual, "messages": LONG}


@pytest.fixture()
async def roomy_cache(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second app whose KV cells could hold many prefixes, with the default resident budget
    for idle ones (none)."""
    async for raw in in_process(
        tmp_path, threads=2, kv_cells=8192, max_sequences=2, cache_ram_mb=256
    ):
        yield raw


@pytest.fixture()
async def resident_cache(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The same, but idle prefixes may keep up to 8,192 cells."""
    async for raw in in_process(
        tmp_path,
        threads=2,
        kv_cells=8192,
        max_sequences=2,
        cache_ram_mb=256,
        idle_prefix_cells=8192,
    ):
        yield raw


async def lookups(raw: httpx.AsyncClient) -> dict[str, float]:
    text = (await raw.get("/metrics")).text
    name = "parley_prefix_cache_lookups_total"
    return {result: counter(text, name, result=result) for result in ("hit", "ram_hit", "miss")}


async def test_an_idle_prefix_leaves_the_kv_cells_when_another_request_starts(
    roomy_cache: httpx.AsyncClient,
) -> None:
    alpha = manual_request("Alpha")
    counted = {k: v for k, v in alpha.items() if k != "max_tokens"}
    prompt = (await roomy_cache.post("/v1/messages/count_tokens", json=counted)).json()
    assert (await roomy_cache.post("/v1/messages", json=alpha)).status_code == 200
    assert (await roomy_cache.post("/v1/messages", json=manual_request("Beta"))).status_code == 200
    text = (await roomy_cache.get("/metrics")).text
    # Beta's prompt and answer are all the cells hold; Alpha waits in host RAM
    assert counter(text, "parley_prefix_cache_cells") < prompt["input_tokens"] + 8
    assert counter(text, "parley_prefix_cache_bytes", tier="ram") > 0
    before = await lookups(roomy_cache)
    assert (await roomy_cache.post("/v1/messages", json=alpha)).status_code == 200
    after = await lookups(roomy_cache)
    assert {k: after[k] - before[k] for k in after} == {"hit": 0, "ram_hit": 1, "miss": 0}


async def test_a_resident_budget_keeps_idle_prefixes_in_the_kv_cells(
    resident_cache: httpx.AsyncClient,
) -> None:
    alpha = manual_request("Alpha")
    assert (await resident_cache.post("/v1/messages", json=alpha)).status_code == 200
    beta = manual_request("Beta")
    assert (await resident_cache.post("/v1/messages", json=beta)).status_code == 200
    before = await lookups(resident_cache)
    assert (await resident_cache.post("/v1/messages", json=alpha)).status_code == 200
    after = await lookups(resident_cache)
    assert {k: after[k] - before[k] for k in after} == {"hit": 1, "ram_hit": 0, "miss": 0}


async def test_an_evicted_prefix_is_restored_from_host_ram(small_cache: httpx.AsyncClient) -> None:
    counted = {k: v for k, v in manual_request("Alpha").items() if k != "max_tokens"}
    prompt = (await small_cache.post("/v1/messages/count_tokens", json=counted)).json()
    for topic in ("Alpha", "Beta", "Gamma"):  # each evicts the one before into host RAM
        assert (
            await small_cache.post("/v1/messages", json=manual_request(topic))
        ).status_code == 200
    before = (await small_cache.get("/metrics")).text
    assert (await small_cache.post("/v1/messages", json=manual_request("Alpha"))).status_code == 200
    after = (await small_cache.get("/metrics")).text
    ram_hits = "parley_prefix_cache_lookups_total"
    assert (
        counter(after, ram_hits, result="ram_hit") - counter(before, ram_hits, result="ram_hit")
        == 1
    )
    reused = "parley_prefix_cache_reused_tokens_total"
    assert counter(after, reused) - counter(before, reused) == prompt["input_tokens"] - 1


async def test_a_full_queue_answers_529_at_once(tiny_queue: httpx.AsyncClient) -> None:
    body = {"model": MODEL, "max_tokens": 100, "temperature": 0, "messages": COUNTING}
    running = asyncio.create_task(tiny_queue.post("/v1/messages", json=body))
    await asyncio.sleep(0.3)  # the decode thread has taken it from the queue
    queued = asyncio.create_task(tiny_queue.post("/v1/messages", json=body))
    await asyncio.sleep(0.3)
    refused = await tiny_queue.post("/v1/messages", json=body)
    assert not running.done()  # refused at once, not after waiting for a sequence
    assert refused.status_code == 529
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert refused.headers["x-should-retry"] == "true"
    assert (await running).status_code == 200 and (await queued).status_code == 200


async def test_a_full_queue_refuses_a_stream_with_529_before_any_event(
    tiny_queue: httpx.AsyncClient,
) -> None:
    body = {"model": MODEL, "max_tokens": 100, "temperature": 0, "messages": COUNTING}
    running = asyncio.create_task(tiny_queue.post("/v1/messages", json=body))
    await asyncio.sleep(0.3)  # the decode thread has taken it from the queue
    queued = asyncio.create_task(tiny_queue.post("/v1/messages", json=body))
    await asyncio.sleep(0.3)
    refused = await tiny_queue.post("/v1/messages", json={**body, "stream": True})
    assert refused.status_code == 529
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert (await running).status_code == 200 and (await queued).status_code == 200


def test_metrics_name_the_backend_and_devices_that_hold_the_model(http: httpx.Client) -> None:
    found = re.search(r"^parley_engine_device_info\{(.*)\} 1\.0$", http.get("/metrics").text, re.M)
    assert found
    labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
    assert (labels["model"], labels["flash_attn"]) == (MODEL, "auto")
    if llama_cpp.llama_supports_gpu_offload():
        assert labels["n_gpu_layers"] == "-1" and labels["backend"] != "CPU"
    else:
        assert (labels["backend"], labels["n_gpu_layers"]) == ("CPU", "0")
        assert labels["devices"].startswith("CPU ")


async def test_a_request_that_could_not_start_soon_is_refused_with_529_at_once(
    impatient: httpx.AsyncClient,
) -> None:
    body = {"model": MODEL, "max_tokens": 100, "temperature": 0, "messages": COUNTING}
    running = asyncio.create_task(impatient.post("/v1/messages", json=body))
    decoded = 0.0
    while decoded < 2:  # it is decoding: the engine has measured its cost per token
        await asyncio.sleep(0.05)
        metrics = (await impatient.get("/metrics")).text
        decoded = counter(metrics, "parley_engine_tokens_total", phase="decode")
    sent = time.perf_counter()
    refused = await impatient.post("/v1/messages", json={**body, "max_tokens": 1})
    assert time.perf_counter() - sent < 1.0
    assert not running.done()  # the queue had room: the expected wait refused it
    assert refused.status_code == 529
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert refused.headers["x-should-retry"] == "true"
    assert (await running).status_code == 200
