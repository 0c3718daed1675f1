"""`diagnostics.previous_message_id` -> `diagnostics.cache_miss_reason`, through the SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx

from tests.helpers import MODEL, OTHER_WORKSPACE_KEY

SYSTEM = "You are a terse assistant. Answer in one word."
FIRST = [{"role": "user", "content": "Name a colour."}]


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body = {"model": MODEL, "max_tokens": 1, "system": SYSTEM, "messages": FIRST, **body}
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def reason(http: httpx.Client, previous: str | None, **body: Any) -> Any:
    diagnostics = {"previous_message_id": previous}
    return create(http, diagnostics=diagnostics, **body)["diagnostics"]["cache_miss_reason"]


def tokens_of(http: httpx.Client, **body: Any) -> int:
    body = {"model": MODEL, "system": SYSTEM, "messages": FIRST, **body}
    counted: int = http.post("/v1/messages/count_tokens", json=body).json()["input_tokens"]
    return counted


def test_without_diagnostics_the_field_is_null(http: httpx.Client) -> None:
    assert create(http)["diagnostics"] is None


def test_a_first_turn_opts_in_with_a_null_id_and_gets_no_reason(http: httpx.Client) -> None:
    assert create(http, diagnostics={"previous_message_id": None})["diagnostics"] == {
        "cache_miss_reason": None
    }


def test_an_appended_conversation_has_no_miss(http: httpx.Client) -> None:
    previous = create(http)["id"]
    later = [*FIRST, {"role": "assistant", "content": "Red."}, {"role": "user", "content": "More"}]
    assert reason(http, previous, messages=later) is None


def test_an_unknown_message_is_not_found(http: httpx.Client) -> None:
    assert reason(http, "msg_01NoSuchMessage0000000000") == {"type": "previous_message_not_found"}


def test_another_workspaces_message_is_not_found(base_url: str, http: httpx.Client) -> None:
    with httpx.Client(base_url=base_url, headers={"x-api-key": OTHER_WORKSPACE_KEY}) as other:
        previous = create(other)["id"]
    assert reason(http, previous) == {"type": "previous_message_not_found"}


def test_a_changed_system_prompt_misses_everything_after_the_tools(http: httpx.Client) -> None:
    previous = create(http)["id"]
    assert reason(http, previous, system="Answer in two words.") == {
        "type": "system_changed",
        "cache_missed_input_tokens": tokens_of(http),
    }


def test_an_edited_earlier_message_misses_from_that_message_on(
    http: httpx.Client, tokens: Callable[[str], int]
) -> None:
    turns = [*FIRST, {"role": "assistant", "content": "Red."}, {"role": "user", "content": "And?"}]
    previous = create(http, messages=turns)["id"]
    edited = [*FIRST, {"role": "assistant", "content": "Blue."}, turns[2]]
    # what stays reusable ends with the first message's text, before the template's suffix
    kept = tokens_of(http, messages=FIRST) - tokens("<|im_end|>\n<|im_start|>assistant\n")
    assert reason(http, previous, messages=edited) == {
        "type": "messages_changed",
        "cache_missed_input_tokens": tokens_of(http, messages=turns) - kept,
    }


def test_the_sdk_parses_the_reason(client: anthropic.Anthropic) -> None:
    first = client.messages.create(model=MODEL, max_tokens=1, system=SYSTEM, messages=FIRST)
    second = client.messages.create(
        model=MODEL,
        max_tokens=1,
        system="Something else entirely.",
        messages=FIRST,
        diagnostics={"previous_message_id": first.id},
    )
    assert second.diagnostics is not None
    assert second.diagnostics.cache_miss_reason is not None
    assert second.diagnostics.cache_miss_reason.type == "system_changed"


def test_the_sdk_parses_a_not_found_reason(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=1,
        system=SYSTEM,
        messages=FIRST,
        diagnostics={"previous_message_id": "msg_01Missing"},
    )
    assert message.diagnostics is not None and message.diagnostics.cache_miss_reason is not None
    assert message.diagnostics.cache_miss_reason.type == "previous_message_not_found"
