"""`compaction: {"type": "summarize"}`: the local model summarizes the conversation into one
`compaction` block, and a later request that starts with that block reads the summary."""

from __future__ import annotations

import json
from typing import Any

import httpx

from parley.services.compaction import INSTRUCTIONS
from tests.fakes import FakeEngine, fake_token, fake_tokens
from tests.helpers import MODEL

QUESTION = {"role": "user", "content": "Which valve is open?"}
ANSWER = {"role": "assistant", "content": "The left one."}
SUMMARY = "The user asked which valve is open: the left one."


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [QUESTION, ANSWER],
        "compaction": {"type": "summarize"},
    } | fields


async def test_the_reply_is_one_compaction_block(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.answer = SUMMARY
    reply = (await fake_client.post("/v1/messages", json=body())).json()
    assert reply["content"] == [{"type": "compaction", "content": SUMMARY}]
    assert reply["stop_reason"] == "compaction"


async def test_the_model_is_asked_to_summarize_after_the_conversation(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    await fake_client.post("/v1/messages", json=body())
    prompt = fake_engine.requests[-1].prompt
    asked = [fake_token("<user>"), *fake_tokens(INSTRUCTIONS), fake_token("<assistant>")]
    assert prompt[-len(asked) :] == asked


async def test_instructions_replace_the_default_ones(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    compaction = {"type": "summarize", "instructions": "List the valves."}
    await fake_client.post("/v1/messages", json=body(compaction=compaction))
    assert fake_engine.requests[-1].prompt[-4:-1] == fake_tokens("List the valves.")


async def test_a_streamed_compaction_is_one_block_with_one_delta(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.answer = SUMMARY
    response = await fake_client.post("/v1/messages", json=body(stream=True))
    events = [
        json.loads(line[len("data: ") :])
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]
    blocks = [e for e in events if e["type"].startswith("content_block")]
    assert blocks == [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "compaction", "content": None},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "compaction_delta", "content": SUMMARY},
        },
        {"type": "content_block_stop", "index": 0},
    ]
    assert events[-2]["delta"]["stop_reason"] == "compaction"


async def test_a_conversation_that_starts_with_the_block_reads_the_summary_first(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    compacted = {"role": "assistant", "content": [{"type": "compaction", "content": SUMMARY}]}
    later = {"role": "user", "content": "And now?"}
    response = await fake_client.post(
        "/v1/messages",
        json={"model": MODEL, "max_tokens": 8, "messages": [compacted, later]},
    )
    assert response.status_code == 200
    summary = fake_tokens(f"Summary of the conversation so far:\n{SUMMARY}")
    assert fake_engine.requests[-1].prompt[: 1 + len(summary)] == [
        fake_token("<system>"),
        *summary,
    ]


async def test_a_compaction_block_later_in_the_conversation_is_refused(
    fake_client: httpx.AsyncClient,
) -> None:
    compacted = {"role": "assistant", "content": [{"type": "compaction", "content": SUMMARY}]}
    response = await fake_client.post(
        "/v1/messages",
        json={"model": MODEL, "max_tokens": 8, "messages": [QUESTION, compacted, QUESTION]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "messages.1.content.0: a compaction block may only come first in messages"
    )
