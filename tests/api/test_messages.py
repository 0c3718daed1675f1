"""`POST /v1/messages` through the official SDK against a real server and the real model."""

from __future__ import annotations

import anthropic
import pytest

from tests.helpers import HOSTED_ALIAS, MODEL

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
# temperature left SDK 2.x with API version 2026-10-21; clients on 2023-06-01 still send it
GREEDY = {
    "extra_headers": {"anthropic-version": "2023-06-01"},
    "extra_body": {"temperature": 0},
}


def test_create_returns_a_message_in_the_contract_shape(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="smollm2-135m", max_tokens=16, messages=QUESTION)
    assert message.id.startswith("msg_01") and len(message.id) == 28
    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"
    assert 1 <= message.usage.output_tokens <= 16


def test_usage_input_tokens_equal_count_tokens(client: anthropic.Anthropic) -> None:
    system = "You answer in one word."
    counted = client.messages.count_tokens(model=MODEL, system=system, messages=QUESTION)
    message = client.messages.create(model=MODEL, system=system, max_tokens=4, messages=QUESTION)
    assert message.usage.input_tokens == counted.input_tokens


def test_count_tokens_of_the_default_template_is_exact(client: anthropic.Anthropic) -> None:
    # <|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging
    # Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n
    # <|im_start|>assistant\n, tokenized by SmolLM2's own tokenizer
    assert client.messages.count_tokens(model=MODEL, messages=QUESTION).input_tokens == 37


def test_temperature_zero_is_deterministic(client: anthropic.Anthropic) -> None:
    def ask() -> str:
        message = client.messages.create(model=MODEL, max_tokens=24, messages=QUESTION, **GREEDY)
        return message.content[0].text  # type: ignore[union-attr]

    ask()  # from here on, both asks find the same cached prefix (docs/engine.md: greedy
    # answers are deterministic for one cache state; other KV layouts may flip near-ties)
    assert ask() == ask()


def test_max_tokens_stops_with_max_tokens(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=3,
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        **GREEDY,
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_stop_sequence_spanning_tokens_is_matched_and_not_included(
    client: anthropic.Anthropic,
) -> None:
    prompt = [{"role": "user", "content": "Write a long story about a dragon."}]
    full = client.messages.create(model=MODEL, max_tokens=40, messages=prompt, **GREEDY)
    text = full.content[0].text  # type: ignore[union-attr]
    stop = text[10:16]  # six characters from inside the answer: several tokens long
    stopped = client.messages.create(
        model=MODEL, max_tokens=40, messages=prompt, stop_sequences=[stop], **GREEDY
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == stop
    assert stopped.content[0].text == text[: text.index(stop)]  # type: ignore[union-attr]


def test_assistant_prefill_is_continued_not_repeated(client: anthropic.Anthropic) -> None:
    prefill = "The capital of France is"
    plain = client.messages.count_tokens(model=MODEL, messages=QUESTION).input_tokens
    message = client.messages.create(
        model=MODEL,
        max_tokens=8,
        messages=[*QUESTION, {"role": "assistant", "content": prefill}],
        **GREEDY,
    )
    assert not message.content[0].text.startswith(prefill)  # type: ignore[union-attr]
    assert message.usage.input_tokens == plain + 5  # "The capital of France is"


def test_consecutive_same_role_turns_are_merged(client: anthropic.Anthropic) -> None:
    split = client.messages.count_tokens(
        model=MODEL,
        messages=[
            {"role": "user", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
        ],
    )
    joined = client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "Hello.\n\nHow are you?"}]
    )
    assert split.input_tokens == joined.input_tokens


def test_system_as_string_or_blocks_counts_the_same(client: anthropic.Anthropic) -> None:
    as_string = client.messages.count_tokens(model=MODEL, system="Be brief.", messages=QUESTION)
    as_blocks = client.messages.count_tokens(
        model=MODEL, system=[{"type": "text", "text": "Be brief."}], messages=QUESTION
    )
    assert as_string.input_tokens == as_blocks.input_tokens


@pytest.mark.parametrize("role", ["system", "ctx", "msg"])
def test_claude_code_roles_inside_messages_are_rendered(
    client: anthropic.Anthropic, role: str
) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=4,
        messages=[*QUESTION, {"role": role, "content": "Answer briefly."}],  # type: ignore[list-item]
    )
    assert message.usage.input_tokens > 37


def test_hosted_model_alias_from_the_config_resolves(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=HOSTED_ALIAS, max_tokens=2, messages=QUESTION)
    assert message.model == MODEL


def test_max_tokens_zero_prewarms_without_content(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=0, messages=QUESTION)
    assert message.content == []
    assert message.stop_reason == "max_tokens"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (37, 0)


def test_newer_request_fields_are_accepted(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=2,
        messages=QUESTION,
        thinking={"type": "adaptive", "display": "omitted"},
        output_config={"effort": "low"},
        metadata={"user_id": '{"device_id":"abc","session_id":"s1"}'},
        service_tier="auto",
        diagnostics={"previous_message_id": None},
        extra_body={"context_management": {"edits": []}},
        extra_headers={"anthropic-beta": "context-management-2025-06-27,unknown-beta-1"},
    )
    assert message.stop_reason in ("end_turn", "max_tokens")


def test_beta_query_string_is_ignored(client: anthropic.Anthropic) -> None:
    message = client.beta.messages.create(model=MODEL, max_tokens=2, messages=QUESTION)
    assert message.model == MODEL


def test_sampling_parameters_are_honoured_on_2023_06_01(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=4,
        messages=QUESTION,
        extra_headers={"anthropic-version": "2023-06-01"},
        extra_body={"temperature": 0.7, "top_p": 0.9, "top_k": 40},
    )
    assert message.usage.output_tokens >= 1
