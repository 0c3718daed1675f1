"""Message threads (beta message-threads-2026-08-12) through the official SDK, over a
FakeEngine in this process: what a continue stands for, every refusal with the error code the
SDK keys on, and the SDK's tool runner and thread helper recovering through those codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.lib.tools import beta_async_tool
from anthropic.types.beta import BetaMessage

from parley.domain.ports import EngineEvent, GenerateRequest
from parley.settings import Settings
from tests.fakes import FakeEngine, FakeStream
from tests.helpers import (
    API_KEY,
    HOSTED_ALIAS,
    MODEL,
    OTHER_WORKSPACE_KEY,
    FakeClock,
    create_keys,
    fake_app,
)

BETA = "message-threads-2026-08-12"
QUESTION = {"role": "user", "content": "Which valve is open?"}
FOLLOW_UP = {"role": "user", "content": "And the other one?"}
CALL = '<tool_call>{"name": "get_time", "input": {}}</tool_call>'


class GatedEngine(FakeEngine):
    """Holds every generation until `gate` opens, so a request stays in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    def generate(self, request: GenerateRequest) -> FakeStream:
        stream = super().generate(request)
        inner = stream._events

        async def gated() -> AsyncGenerator[EngineEvent, None]:
            await self.gate.wait()
            async for event in inner:
                yield event

        stream._events = gated()
        return stream


@dataclass
class Served:
    client: anthropic.AsyncAnthropic
    other: anthropic.AsyncAnthropic  # a key of another workspace
    engine: GatedEngine
    clock: FakeClock
    sent: list[dict[str, Any]] = field(default_factory=list)

    def threads(self) -> list[str | None]:
        """The `thread.type` of each request sent, None where it had no thread."""
        return [(body.get("thread") or {}).get("type") for body in self.sent]


@pytest.fixture()
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    settings = Settings(data_dir=tmp_path, aliases={HOSTED_ALIAS: MODEL})
    create_keys(settings)
    engine, clock = GatedEngine(), FakeClock()
    app = fake_app(settings, engine, clock)
    sent: list[dict[str, Any]] = []

    async def record(request: httpx2.Request) -> None:
        if request.method == "POST":
            sent.append(json.loads(request.content))

    transport = httpx2.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=transport, base_url="http://parley", event_hooks={"request": [record]}
        ) as raw,
    ):
        yield Served(
            anthropic.AsyncAnthropic(
                base_url="http://parley", api_key=API_KEY, max_retries=0, http_client=raw
            ),
            anthropic.AsyncAnthropic(
                base_url="http://parley",
                api_key=OTHER_WORKSPACE_KEY,
                max_retries=0,
                http_client=raw,
            ),
            engine,
            clock,
            sent,
        )


async def send(served: Served, **fields: Any) -> BetaMessage:
    """A beta create of QUESTION (fields add or replace)."""
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 8, "messages": [QUESTION]}
    return await served.client.beta.messages.create(**(body | fields), betas=[BETA])


def after(reply: BetaMessage) -> dict[str, Any]:
    return {"type": "continue", "previous_message_id": reply.id}


def as_param(reply: BetaMessage) -> dict[str, Any]:
    return {"role": "assistant", "content": [block.model_dump() for block in reply.content]}


def refusal(raised: pytest.ExceptionInfo[anthropic.APIStatusError]) -> tuple[int, str, str]:
    error = raised.value.body["error"]  # type: ignore[index]
    return raised.value.status_code, error["type"], error["details"]["error_code"]


async def test_a_continue_is_the_whole_conversation_to_the_model(served: Served) -> None:
    first = await send(served, system="Be brief.", thread={"type": "create"})
    continued = await send(served, messages=[FOLLOW_UP], thread=after(first))
    threaded = served.engine.requests[-1].prompt
    whole = await send(served, system="Be brief.", messages=[QUESTION, as_param(first), FOLLOW_UP])
    assert served.engine.requests[-1].prompt == threaded
    assert continued.usage.input_tokens == whole.usage.input_tokens


async def test_a_continue_of_a_continue_carries_every_turn(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    second = await send(served, messages=[FOLLOW_UP], thread=after(first))
    last = {"role": "user", "content": "Thanks."}
    await send(served, messages=[last], thread=after(second))
    threaded = served.engine.requests[-1].prompt
    await send(served, messages=[QUESTION, as_param(first), FOLLOW_UP, as_param(second), last])
    assert served.engine.requests[-1].prompt == threaded


async def test_a_streamed_reply_can_be_continued_by_a_stream(served: Served) -> None:
    async with served.client.beta.messages.stream(
        model=MODEL, max_tokens=8, messages=[QUESTION], thread={"type": "create"}, betas=[BETA]
    ) as stream:
        first = await stream.get_final_message()
    async with served.client.beta.messages.stream(
        model=MODEL, max_tokens=8, messages=[FOLLOW_UP], thread=after(first), betas=[BETA]
    ) as stream:
        second = await stream.get_final_message()
    assert second.content[0].type == "text"
    assert len(served.engine.requests[-1].prompt) > len(served.engine.requests[0].prompt)


async def test_an_unknown_message_is_thread_not_found(served: Served) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        await send(served, thread={"type": "continue", "previous_message_id": "msg_nope"})
    assert refusal(raised) == (404, "not_found_error", "thread_not_found")


async def test_a_reply_idle_for_five_minutes_is_thread_not_found(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    served.clock.advance(301)
    with pytest.raises(anthropic.NotFoundError) as raised:
        await send(served, messages=[FOLLOW_UP], thread=after(first))
    assert refusal(raised) == (404, "not_found_error", "thread_not_found")


async def test_another_workspace_cannot_continue_the_thread(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    with pytest.raises(anthropic.NotFoundError) as raised:
        await served.other.beta.messages.create(
            model=MODEL, max_tokens=8, messages=[FOLLOW_UP], thread=after(first), betas=[BETA]
        )
    assert refusal(raised) == (404, "not_found_error", "thread_not_found")


async def test_a_reply_continued_once_is_thread_already_continued(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    await send(served, messages=[FOLLOW_UP], thread=after(first))
    with pytest.raises(anthropic.BadRequestError) as raised:
        await send(served, messages=[FOLLOW_UP], thread=after(first))
    assert refusal(raised) == (400, "invalid_request_error", "thread_already_continued")


async def test_a_continue_while_another_is_in_flight_is_refused(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    served.engine.gate.clear()
    held = asyncio.ensure_future(send(served, messages=[FOLLOW_UP], thread=after(first)))
    while len(served.engine.requests) < 2:
        await asyncio.sleep(0.01)
    with pytest.raises(anthropic.BadRequestError) as raised:
        await send(served, messages=[FOLLOW_UP], thread=after(first))
    served.engine.gate.set()
    await held
    assert refusal(raised) == (400, "invalid_request_error", "thread_continue_in_flight")


async def test_a_refused_continue_leaves_the_reply_to_continue(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    with pytest.raises(anthropic.BadRequestError):
        await send(served, messages=[FOLLOW_UP], max_tokens=9000, thread=after(first))
    assert (await send(served, messages=[FOLLOW_UP], thread=after(first))).content


async def test_a_continue_that_resends_another_system_is_a_fingerprint_mismatch(
    served: Served,
) -> None:
    first = await send(served, system="Be brief.", thread={"type": "create"})
    with pytest.raises(anthropic.BadRequestError) as raised:
        await send(served, system="Be verbose.", messages=[FOLLOW_UP], thread=after(first))
    assert refusal(raised) == (400, "invalid_request_error", "thread_fingerprint_mismatch")
    assert "system" in raised.value.body["error"]["message"]  # type: ignore[index]


async def test_a_continue_on_another_model_is_a_fingerprint_mismatch(served: Served) -> None:
    first = await send(served, thread={"type": "create"})
    with pytest.raises(anthropic.BadRequestError) as raised:
        await send(served, model=HOSTED_ALIAS, messages=[FOLLOW_UP], thread=after(first))
    assert refusal(raised) == (400, "invalid_request_error", "thread_fingerprint_mismatch")


async def test_a_pre_warm_cannot_be_threaded(served: Served) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await send(served, max_tokens=0, thread={"type": "create"})
    assert refusal(raised) == (400, "invalid_request_error", "thread_unsupported_request")
    assert raised.value.body["error"]["details"]["unsupported"] == []  # type: ignore[index]


# The SDK's own thread machinery


async def run_tools(served: Served, *, expire: bool = False, **options: Any) -> list[BetaMessage]:
    """The SDK's tool runner on a model that calls get_time once, then answers; `expire`:
    the thread expires while the tool runs."""
    served.engine.answer = CALL

    @beta_async_tool
    async def get_time() -> str:
        """The time now."""
        served.engine.answer = "It is noon."
        if expire:
            served.clock.advance(301)
        return "12:00"

    fields: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 64,
        "system": "You tell the time.",
        "messages": [{"role": "user", "content": "What time is it?"}],
    }
    runner = served.client.beta.messages.tool_runner(tools=[get_time], **(fields | options))
    return [message async for message in runner]


async def test_the_tool_runner_threads_by_default(served: Served) -> None:
    replies = await run_tools(served)
    assert [reply.stop_reason for reply in replies] == ["tool_use", "end_turn"]
    assert served.threads() == ["create", "continue"]
    continued = served.sent[1]
    assert "system" not in continued and "tools" not in continued
    assert [m["content"][0]["type"] for m in continued["messages"]] == ["tool_result"]


async def test_the_tool_runner_without_threads_sends_the_whole_history(served: Served) -> None:
    replies = await run_tools(served, thread=False)
    assert [reply.stop_reason for reply in replies] == ["tool_use", "end_turn"]
    assert served.threads() == [None, None]
    assert len(served.sent[1]["messages"]) == 3


async def test_the_tool_runner_replays_a_thread_that_expired(served: Served) -> None:
    replies = await run_tools(served, expire=True)
    assert [reply.stop_reason for reply in replies] == ["tool_use", "end_turn"]
    assert served.threads() == ["create", "continue", "create"]
    assert len(served.sent[2]["messages"]) == 3


async def test_the_thread_helper_replays_a_reply_continued_elsewhere(served: Served) -> None:
    thread = served.client.beta.messages.thread(model=MODEL, max_tokens=8, messages=[QUESTION])
    first = await thread.send()
    await send(served, messages=[FOLLOW_UP], thread=after(first))  # behind its back
    reply = await thread.send(FOLLOW_UP)
    assert reply.content
    assert served.threads() == ["create", "continue", "continue", "create"]


async def test_the_thread_helper_replays_a_continue_in_flight(served: Served) -> None:
    thread = served.client.beta.messages.thread(model=MODEL, max_tokens=8, messages=[QUESTION])
    first = await thread.send()
    served.engine.gate.clear()
    held = asyncio.ensure_future(send(served, messages=[FOLLOW_UP], thread=after(first)))
    while len(served.engine.requests) < 2:
        await asyncio.sleep(0.01)
    replay = asyncio.ensure_future(thread.send(FOLLOW_UP))
    while len(served.sent) < 4:
        await asyncio.sleep(0.01)
    served.engine.gate.set()
    await held
    assert (await replay).content
    assert served.threads() == ["create", "continue", "continue", "create"]


async def test_the_tool_runner_goes_unthreaded_where_threads_are_unsupported(
    served: Served,
) -> None:
    replies = await run_tools(served, max_tokens=0)
    assert [reply.content for reply in replies] == [[]]
    assert served.threads() == ["create", None]
