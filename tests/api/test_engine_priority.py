"""Interactive requests first: on the real engine, batch work (a higher `priority`) waits
behind interactive requests and never takes the engine's last free sequence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from parley.domain.catalog import DEFAULT_MODEL
from parley.domain.ports import EngineStream, GenerateRequest, GenerationEnd, Sampling, TokenOut
from parley.domain.prompt import Conversation, Turn
from parley.engine.llama import scheduler
from parley.engine.llama.engine import LlamaEngine
from parley.engine.llama.locate import model_path
from parley.errors import OverloadedError
from parley.metrics import Metrics
from parley.settings import EngineSettings, Settings

LONG = "List the numbers from 1 to 1000 in digits, separated by commas."


def small_engine(
    settings: Settings, registry: CollectorRegistry | None = None, **engine: Any
) -> LlamaEngine:
    """The packaged model with a 2,048-token window, 2 threads and 4,096 KV cells, and
    `engine`'s other settings."""
    return LlamaEngine(
        model_path(DEFAULT_MODEL.backend, settings.data_dir),
        EngineSettings(threads=2, kv_cells=4096, **engine),
        entry=replace(DEFAULT_MODEL, context_window=2048),
        metrics=Metrics(registry or CollectorRegistry()),
    )


@pytest.fixture()
async def engine(settings: Settings) -> AsyncIterator[LlamaEngine]:
    loaded = small_engine(settings, max_sequences=2, prefix_entries=4, max_queue_wait_s=600)
    yield loaded
    await loaded.close()


def request(engine: LlamaEngine, text: str, max_tokens: int, priority: int) -> GenerateRequest:
    prompt = engine.render(Conversation(turns=(Turn("user", text),))).tokens
    return GenerateRequest(
        prompt=prompt,
        max_tokens=max_tokens,
        sampling=Sampling(temperature=0),
        tenant="t",
        priority=priority,
    )


def lines(count: int) -> str:
    """A document of `count` numbered lines."""
    return " ".join(f"Line {n}: the quick brown fox jumps over the lazy dog." for n in range(count))


async def first_token(stream: EngineStream) -> float:
    async for event in stream:
        if isinstance(event, TokenOut):
            return time.perf_counter()
    raise AssertionError("no token")


async def tokens(stream: EngineStream, n: int) -> list[TokenOut]:
    """The stream's next `n` tokens (fewer if it ends first)."""
    out: list[TokenOut] = []
    async for event in stream:
        if isinstance(event, TokenOut):
            out.append(event)
            if len(out) == n:
                break
    return out


async def test_batch_work_fills_every_sequence_and_an_interactive_request_still_starts(
    engine: LlamaEngine,
) -> None:
    batch = [engine.generate(request(engine, LONG, 300, priority=1)) for _ in range(3)]
    started = [asyncio.ensure_future(first_token(stream)) for stream in batch]
    try:
        await asyncio.wait(started[:2])  # both sequences: the third job waits
        interactive = engine.generate(request(engine, "Say hi.", 3, priority=0))
        assert [event async for event in interactive if isinstance(event, TokenOut)]
        assert not started[2].done()
    finally:
        for task in started:
            task.cancel()
        for stream in batch:
            await stream.aclose()


async def test_batch_work_leaves_the_last_sequence_id_for_an_interactive_request(
    settings: Settings,
) -> None:
    engine = small_engine(settings, max_sequences=2, prefix_entries=0)
    batch = [engine.generate(request(engine, LONG, 300, priority=1)) for _ in range(2)]
    started = [asyncio.ensure_future(first_token(stream)) for stream in batch]
    try:
        await asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED)
        interactive = engine.generate(request(engine, "Say hi.", 3, priority=0))
        assert [event async for event in interactive if isinstance(event, TokenOut)]
        assert sum(task.done() for task in started) == 1  # the second batch job still waits
    finally:
        for task in started:
            task.cancel()
        for stream in batch:
            await stream.aclose()
        await engine.close()


async def test_queued_batch_work_does_not_refuse_an_interactive_request(
    settings: Settings,
) -> None:
    engine = small_engine(settings, max_sequences=2, prefix_entries=4, queue_limit=1)
    batch: list[EngineStream] = []
    try:
        with pytest.raises(OverloadedError):
            for _ in range(5):  # at most one batch job runs, one waits: then the queue is full
                batch.append(engine.generate(request(engine, LONG, 300, priority=1)))
        interactive = engine.generate(request(engine, "Say hi.", 3, priority=0))
        assert [event async for event in interactive if isinstance(event, TokenOut)]
    finally:
        for stream in batch:
            await stream.aclose()
        await engine.close()


async def test_batch_work_queues_however_long_its_expected_wait(settings: Settings) -> None:
    engine = small_engine(settings, max_sequences=1, prefix_entries=4, max_queue_wait_s=0.05)
    batch = engine.generate(request(engine, LONG, 300, priority=1))
    streams = [batch]
    try:
        await tokens(batch, 3)  # it holds the only sequence; the engine knows its token costs
        streams.append(engine.generate(request(engine, LONG, 300, priority=1)))
        streams.append(engine.generate(request(engine, LONG, 300, priority=0)))
        with pytest.raises(OverloadedError):  # the same work, interactive, would wait too long
            engine.generate(request(engine, LONG, 300, priority=0))
    finally:
        for stream in streams:
            await stream.aclose()
        await engine.close()


async def test_running_batch_work_does_not_refuse_an_interactive_request(
    settings: Settings,
) -> None:
    engine = small_engine(settings, max_sequences=1, prefix_entries=4, max_queue_wait_s=0.05)
    batch = engine.generate(request(engine, LONG, 300, priority=1))
    try:
        await tokens(batch, 3)
        interactive = engine.generate(request(engine, "Say hi.", 3, priority=0))
        assert [event async for event in interactive if isinstance(event, TokenOut)]
    finally:
        await batch.aclose()
        await engine.close()


@asynccontextmanager
async def batch_job_decoding(engine: LlamaEngine) -> AsyncIterator[list[TokenOut]]:
    """A long batch job, once it decodes: the tokens it has produced so far, kept up to date."""
    batch = engine.generate(request(engine, LONG, 300, priority=1))
    received: list[TokenOut] = []

    async def read_batch() -> None:
        async for event in batch:
            if isinstance(event, TokenOut):
                received.append(event)

    reading = asyncio.ensure_future(read_batch())
    try:
        while len(received) < 3:
            await asyncio.sleep(0.01)
        yield received
    finally:
        reading.cancel()
        await batch.aclose()


async def test_running_batch_work_pauses_while_an_interactive_request_runs(
    engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "BATCH_MAX_PAUSE_S", 3600.0)  # however slow the machine
    async with batch_job_decoding(engine) as received:
        interactive = engine.generate(request(engine, LONG, 16, priority=0))
        await tokens(interactive, 1)
        before = len(received)
        assert len(await tokens(interactive, 15)) == 15
        assert len(received) - before <= 2  # at most what was under way when it arrived
        while len(received) < before + 3:  # then the batch job goes on
            await asyncio.sleep(0.01)


async def test_batch_work_paused_too_long_advances_beside_interactive_requests(
    engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "BATCH_MAX_PAUSE_S", 0.05)
    async with batch_job_decoding(engine) as received:
        interactive = engine.generate(request(engine, LONG, 120, priority=0))
        await tokens(interactive, 1)
        before = len(received)
        assert len(await tokens(interactive, 119)) == 119  # it ran throughout
        assert len(received) - before > 2  # more than what was under way when it came in


async def test_an_interactive_request_interrupts_a_step_of_batch_work_which_runs_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same chunks in both runs (steps of other sizes may round differently), so the
    # answers can be compared token for token.
    monkeypatch.setattr(scheduler, "BATCH_STEP_S", 3600.0)
    registry = CollectorRegistry()
    engine = small_engine(
        settings, registry=registry, max_sequences=2, prefix_entries=4, batch_tokens=32
    )
    document = lines(120)
    # An answer with wide margins: steps of other shapes round differently, and a near tie
    # could then go either way without anything being wrong.
    text = f"{document}\nContinue counting, in digits: 1, 2, 3, 4, 5,"

    async def batch_answer(tenant: str, interrupt: bool) -> list[bytes]:
        job = request(engine, text, 12, priority=1)
        stream = engine.generate(replace(job, tenant=tenant))  # its own cache: a cold prompt
        reading = asyncio.ensure_future(tokens(stream, 12))
        while interrupt and not reading.done():
            await asyncio.sleep(0.2)  # inside the prompt's long steps
            quick = engine.generate(request(engine, "Say hi.", 2, priority=0))
            assert [event async for event in quick if isinstance(event, TokenOut)]
        return [event.token for event in await reading]

    interrupted = ("parley_engine_interrupted_steps_total", {"model": DEFAULT_MODEL.id})
    try:
        alone = await batch_answer("alone", interrupt=False)
        assert registry.get_sample_value(*interrupted) == 0
        again = await batch_answer("interrupted", interrupt=True)
        assert registry.get_sample_value(*interrupted)  # the prompt's steps were stopped
        # what the stopped steps had written to the cache was taken back: llama.cpp refuses
        # positions that do not follow on, and the answer is the same
        assert again == alone
    finally:
        await engine.close()


async def ending(stream: EngineStream) -> GenerationEnd:
    async for event in stream:
        if isinstance(event, GenerationEnd):
            return event
    raise AssertionError("no end")


async def test_a_request_sharing_a_prompt_being_computed_waits_for_it_and_reuses_it(
    engine: LlamaEngine,
) -> None:
    document = lines(60)
    first = engine.generate(request(engine, f"{document}\nWhat is line 3?", 2, priority=0))
    second = engine.generate(request(engine, f"{document}\nWhat is line 7?", 2, priority=0))
    ends = await asyncio.gather(ending(first), ending(second))
    assert ends[0].reused_tokens == 0
    assert ends[1].reused_tokens > 700  # the document's tokens, computed once


async def test_a_request_that_waits_for_a_shared_prompt_lets_others_start_meanwhile(
    engine: LlamaEngine,
) -> None:
    document = lines(60)
    first = engine.generate(request(engine, f"{document}\nWhat is line 3?", 2, priority=0))
    follower = engine.generate(request(engine, f"{document}\nWhat is line 7?", 2, priority=0))
    other = engine.generate(request(engine, "Say hi.", 2, priority=0))
    order: list[str] = []

    async def finish(name: str, stream: EngineStream) -> None:
        await ending(stream)
        order.append(name)

    await asyncio.gather(
        finish("first", first), finish("follower", follower), finish("other", other)
    )
    assert order.index("other") < order.index("follower")


async def test_an_interactive_request_that_follows_a_batch_job_lets_it_finish(
    engine: LlamaEngine,
) -> None:
    document = lines(60)
    batch = engine.generate(request(engine, f"{document}\nWhat is line 3?", 4, priority=1))
    interactive = engine.generate(request(engine, f"{document}\nWhat is line 7?", 4, priority=0))
    ends = await asyncio.wait_for(asyncio.gather(ending(batch), ending(interactive)), 120)
    assert ends[1].reused_tokens > 700  # it waited for the batch job's prompt, which went on
