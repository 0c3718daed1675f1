"""Threads on the real model: the official SDK's tool runner, threaded by default and with
`thread=False`, against the session's uvicorn server; and a thread's conversation kept warm
in the engine, so its continue prefills only the new turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from anthropic import beta_tool
from anthropic.types.beta import BetaMessage

from tests.factories import manual
from tests.helpers import API_KEY, MODEL, FakeClock, counter, in_process

BETA = "message-threads-2026-08-12"


class Recorded:
    """An SDK client whose request bodies are kept, in order."""

    def __init__(self, base_url: str) -> None:
        self.sent: list[dict[str, Any]] = []
        self._http = httpx2.Client(event_hooks={"request": [self._record]})
        self.client = anthropic.Anthropic(
            base_url=base_url, api_key=API_KEY, max_retries=0, timeout=300, http_client=self._http
        )

    def _record(self, request: httpx2.Request) -> None:
        if request.method == "POST":
            self.sent.append(json.loads(request.content))

    def threads(self) -> list[str | None]:
        return [(body.get("thread") or {}).get("type") for body in self.sent]

    def close(self) -> None:
        self._http.close()


@pytest.fixture()
def recorded(base_url: str) -> Iterator[Recorded]:
    client = Recorded(base_url)
    yield client
    client.close()


def agent(recorded: Recorded, clock: FakeClock | None = None, **options: Any) -> list[Any]:
    """Three turns of a runner whose model must call `get_time` each turn; `clock`: the
    thread expires while the first call runs."""
    calls = 0

    @beta_tool
    def get_time() -> str:
        """The time now, as HH:MM."""
        nonlocal calls
        calls += 1
        if clock is not None and calls == 1:
            clock.advance(301)
        return "12:00"

    runner = recorded.client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=32,
        system="You are a clock assistant.",
        messages=[{"role": "user", "content": "What time is it?"}],
        tools=[get_time],
        tool_choice={"type": "any"},
        max_iterations=3,
        **options,
    )
    return list(runner)


def test_the_tool_runner_threads_by_default(recorded: Recorded) -> None:
    replies = agent(recorded)
    assert [reply.stop_reason for reply in replies] == ["tool_use"] * 3
    assert recorded.threads() == ["create", "continue", "continue"]
    assert [len(body["messages"]) for body in recorded.sent] == [1, 1, 1]


def test_the_tool_runner_with_thread_false_sends_the_whole_history(recorded: Recorded) -> None:
    replies = agent(recorded, thread=False)
    assert [reply.stop_reason for reply in replies] == ["tool_use"] * 3
    assert recorded.threads() == [None, None, None]
    assert [len(body["messages"]) for body in recorded.sent] == [1, 3, 5]


def test_the_tool_runner_replays_an_expired_thread(recorded: Recorded, clock: FakeClock) -> None:
    replies = agent(recorded, clock=clock)
    assert [reply.stop_reason for reply in replies] == ["tool_use"] * 3
    assert recorded.threads() == ["create", "continue", "create", "continue"]
    assert [len(body["messages"]) for body in recorded.sent] == [1, 1, 3, 1]


def test_a_threaded_answer_is_the_answer_to_the_whole_conversation(recorded: Recorded) -> None:
    question = {"role": "user", "content": "Name a colour."}
    follow_up = {"role": "user", "content": "Name another one."}
    fields: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 12,
        # greedy, so the same prompt gives the same answer (SDK 2.14 sends no temperature)
        "extra_body": {"temperature": 0.0},
        "extra_headers": {"anthropic-version": "2023-06-01"},
    }
    first = recorded.client.beta.messages.create(
        **fields, messages=[question], thread={"type": "create"}, betas=[BETA]
    )
    threaded: BetaMessage = recorded.client.beta.messages.create(
        **fields,
        messages=[follow_up],
        thread={"type": "continue", "previous_message_id": first.id},
        betas=[BETA],
    )
    history = [question, {"role": "assistant", "content": first.content}, follow_up]
    whole = recorded.client.beta.messages.create(**fields, messages=history)
    assert threaded.content == whole.content
    assert threaded.usage.input_tokens == whole.usage.input_tokens


# The thread's KV cells stay warm while other traffic comes and goes


@pytest.fixture()
async def short_lived(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose unused, unpinned cached prefixes expire after 0.3 s (and none go to RAM)."""
    async for raw in in_process(
        tmp_path,
        threads=2,
        kv_cells=4096,
        max_sequences=2,
        cache_ram_mb=0,
        idle_prefix_cells=4096,
        prefix_idle_seconds=0.3,
    ):
        yield raw


async def prefilled_by_follow_up(raw: httpx.AsyncClient, threaded: bool) -> int:
    """Prompt tokens the engine computed for the second turn of a long conversation, when
    other traffic came after an idle spell between the turns."""
    question = {"role": "user", "content": "Which valve first?"}
    follow_up = {"role": "user", "content": "And then?"}
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 4, "temperature": 0.0}
    system = manual("kv")
    create = {"thread": {"type": "create"}} if threaded else {}
    first = await raw.post(
        "/v1/messages", json={**body, "system": system, "messages": [question], **create}
    )
    await asyncio.sleep(0.4)
    other = {**body, "messages": [{"role": "user", "content": "Hello."}]}
    assert (await raw.post("/v1/messages", json=other)).status_code == 200
    reply = {"role": "assistant", "content": first.json()["content"]}
    if threaded:
        previous = {"type": "continue", "previous_message_id": first.json()["id"]}
        second = {**body, "messages": [follow_up], "thread": previous}
    else:
        second = {**body, "system": system, "messages": [question, reply, follow_up]}
    before = (await raw.get("/metrics")).text
    assert (await raw.post("/v1/messages", json=second)).status_code == 200
    after = (await raw.get("/metrics")).text
    return int(
        counter(after, "parley_engine_tokens_total", phase="prefill")
        - counter(before, "parley_engine_tokens_total", phase="prefill")
    )


async def test_a_continue_prefills_only_the_new_turn(short_lived: httpx.AsyncClient) -> None:
    assert await prefilled_by_follow_up(short_lived, threaded=True) < 40


async def test_without_a_thread_the_idle_prefix_is_computed_again(
    short_lived: httpx.AsyncClient,
) -> None:
    assert await prefilled_by_follow_up(short_lived, threaded=False) > 600
