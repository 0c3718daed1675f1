"""A Message Batch on the real model, through the official SDK against a real server: its
requests run through the Messages pipeline, so they answer what `POST /v1/messages` answers."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import pytest

from tests.helpers import MODEL


def params(content: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 8,
        "temperature": 0,
        "messages": [{"role": "user", "content": content}],
    } | fields


def test_a_batch_answers_as_the_messages_api_does(client: anthropic.Anthropic) -> None:
    """Greedy (temperature 0, which API version 2023-06-01 still takes) so the answers match;
    the batch keeps the version it was created with."""
    client = client.with_options(default_headers={"anthropic-version": "2023-06-01"})
    asked = params("Name a colour.")
    too_long = params("Hi.", max_tokens=10**9)
    created = client.messages.batches.create(
        requests=[
            {"custom_id": "colour", "params": asked},
            {"custom_id": "fruit", "params": params("Name a fruit.")},
            {"custom_id": "too-long", "params": too_long},
        ]
    )
    deadline = time.monotonic() + 120
    while (batch := client.messages.batches.retrieve(created.id)).processing_status != "ended":
        assert time.monotonic() < deadline, "the batch did not end"
        time.sleep(0.2)
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (2, 1)
    got = {line.custom_id: line.result for line in client.messages.batches.results(created.id)}
    plain = {k: v for k, v in asked.items() if k != "temperature"}
    direct = client.messages.create(**plain, extra_body={"temperature": 0})
    answer = got["colour"].message
    assert answer.content[0].text == direct.content[0].text
    assert answer.usage.input_tokens == direct.usage.input_tokens
    assert answer.usage.output_tokens == direct.usage.output_tokens
    assert (answer.usage.service_tier, direct.usage.service_tier) == ("batch", "standard")
    assert got["fruit"].message.content[0].text
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(**{k: v for k, v in too_long.items() if k != "temperature"})
    assert got["too-long"].error.error.message == refused.value.body["error"]["message"]  # type: ignore[index]
