"""Prompt caching through the official SDK: the contract's cache_control rules, to the token.

Expected numbers come from an oracle independent of the server's offset mapping: the model's
own tokenizer applied to the rendered prefix up to the breakpoint (the packaged model's chat
template is ChatML). Each scenario runs as a plain create and through the SDK's streaming
helper, whose message_start must carry the same input and cache counts as the final message.
Each test uses its own manual `edition`, so no test reads another's entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest
from anthropic.types import Usage

from parley.domain.catalog import DEFAULT_MODEL
from tests.factories import cached, manual
from tests.helpers import MODEL, OTHER_WORKSPACE_KEY, FakeClock

MINIMUM = DEFAULT_MODEL.min_cache_tokens
QUESTION = [{"role": "user", "content": "Which valve stays closed longest?"}]
TRANSPORTS = ("create", "stream")


@dataclass(frozen=True)
class Split:
    """The input side of a usage: read, written (5m, 1h), and uncached input."""

    read: int
    write_5m: int
    write_1h: int
    uncached: int

    @classmethod
    def of(cls, usage: Usage) -> Split:
        creation = usage.cache_creation
        assert creation is not None
        assert usage.cache_creation_input_tokens == (
            creation.ephemeral_5m_input_tokens + creation.ephemeral_1h_input_tokens
        )
        return cls(
            usage.cache_read_input_tokens or 0,
            creation.ephemeral_5m_input_tokens,
            creation.ephemeral_1h_input_tokens,
            usage.input_tokens,
        )

    @property
    def total(self) -> int:
        return self.read + self.write_5m + self.write_1h + self.uncached


Send = Callable[..., Split]


def system_prefix(tokens: Callable[[str], int], *blocks: str) -> int:
    """Tokens of the rendered prompt up to the end of the last given system block."""
    return tokens("<|im_start|>system\n" + "\n\n".join(blocks))


def send_with(client: anthropic.Anthropic, transport: str, **body: Any) -> Split:
    body = {"model": MODEL, "max_tokens": 1, "messages": QUESTION, **body}
    if transport == "create":
        return Split.of(client.messages.create(**body).usage)
    with client.messages.stream(**body) as stream:
        start = next(event for event in stream if event.type == "message_start")
        final = stream.get_final_message()
    assert Split.of(start.message.usage) == Split.of(final.usage)
    return Split.of(final.usage)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def send(client: anthropic.Anthropic, transport: str) -> Send:
    return lambda **body: send_with(client, transport, **body)


@pytest.fixture
def edition(request: pytest.FixtureRequest, transport: str) -> str:
    return f"{request.node.originalname}-{transport}"


def count(client: anthropic.Anthropic, **body: Any) -> int:
    body = {"model": MODEL, "messages": QUESTION, **body}
    return client.messages.count_tokens(**body).input_tokens


def test_the_first_request_writes_up_to_the_breakpoint(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    system = [cached(manual(edition))]
    written = system_prefix(tokens, manual(edition))
    assert written >= MINIMUM
    usage = send(system=system)
    assert usage == Split(0, written, 0, count(client, system=system) - written)


def test_a_later_request_reads_what_the_first_wrote(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    system = [cached(manual(edition))]
    first = send(system=system)
    second = send(system=system)
    prefix = system_prefix(tokens, manual(edition))
    assert second == Split(prefix, 0, 0, first.uncached)
    assert second.total == first.total == count(client, system=system)


def test_a_new_breakpoint_past_a_hit_reads_the_old_and_writes_the_tail(
    send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    base, extra = manual(edition), manual(edition + "-appendix", rules=10)
    send(system=[cached(base)])
    usage = send(system=[cached(base), cached(extra)])
    old, new = system_prefix(tokens, base), system_prefix(tokens, base, extra)
    assert (usage.read, usage.write_5m, usage.write_1h) == (old, new - old, 0)


def test_four_breakpoints_write_up_to_the_last_one(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    parts = [manual(f"{edition}-{i}", rules=12) for i in range(4)]
    system = [cached(part) for part in parts]
    usage = send(system=system)
    last = system_prefix(tokens, *parts)
    assert usage == Split(0, last, 0, count(client, system=system) - last)


def test_a_one_hour_breakpoint_before_a_five_minute_one_splits_the_write(
    send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    long_lived, short_lived = manual(edition), manual(edition + "-today", rules=10)
    usage = send(system=[cached(long_lived, "1h"), cached(short_lived, "5m")])
    hour, five = system_prefix(tokens, long_lived), system_prefix(tokens, long_lived, short_lived)
    assert (usage.read, usage.write_5m, usage.write_1h) == (0, five - hour, hour)


def plain(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def test_a_breakpoint_moved_forward_reads_the_previous_one_through_the_lookback(
    send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    """Claude Code's habit: each turn moves the breakpoint to the newest block."""
    base, notes = manual(edition), [manual(f"{edition}-{i}", rules=2) for i in range(6)]
    send(system=[cached(base)])
    second = send(system=[plain(base), *map(plain, notes[:2]), cached(notes[2])])
    third = send(system=[plain(base), *map(plain, notes[:5]), cached(notes[5])])
    at_base, at_three = system_prefix(tokens, base), system_prefix(tokens, base, *notes[:3])
    assert (second.read, second.write_5m) == (at_base, at_three - at_base)
    assert (third.read, third.write_5m) == (
        at_three,
        system_prefix(tokens, base, *notes) - at_three,
    )


def test_an_entry_more_than_twenty_blocks_back_is_not_found(
    send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    base, notes = manual(edition), [f"Note {i} of {edition}." for i in range(20)]
    send(system=[cached(base)])
    usage = send(system=[plain(base), *map(plain, notes[:-1]), cached(notes[-1])])
    assert (usage.read, usage.write_5m) == (0, system_prefix(tokens, base, *notes))


def test_a_prefix_below_the_model_minimum_is_not_cached(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    short = manual(edition, rules=5)
    assert system_prefix(tokens, short) < MINIMUM
    system = [cached(short)]
    send(system=system)
    assert send(system=system) == Split(0, 0, 0, count(client, system=system))


def test_an_entry_expires_after_its_ttl_and_is_written_again(
    send: Send, edition: str, clock: FakeClock, tokens: Callable[[str], int]
) -> None:
    system = [cached(manual(edition))]
    prefix = system_prefix(tokens, manual(edition))
    with clock.frozen():
        send(system=system)
        clock.advance(299)
        assert send(system=system).read == prefix  # a hit, which refreshes the TTL
        clock.advance(299)
        assert send(system=system).read == prefix
        clock.advance(301)
        again = send(system=system)
    assert (again.read, again.write_5m) == (0, prefix)


def test_a_one_hour_entry_outlives_five_minutes(
    send: Send, edition: str, clock: FakeClock, tokens: Callable[[str], int]
) -> None:
    system = [cached(manual(edition), "1h")]
    send(system=system)
    clock.advance(1800)
    assert send(system=system).read == system_prefix(tokens, manual(edition))


def test_another_workspace_never_reads_the_entry(
    base_url: str, send: Send, edition: str, transport: str
) -> None:
    system = [cached(manual(edition))]
    mine = send(system=system)
    other = anthropic.Anthropic(base_url=base_url, api_key=OTHER_WORKSPACE_KEY, max_retries=0)
    theirs = send_with(other, transport, system=system)
    assert theirs == mine  # written again, not read


def test_changing_tool_choice_keeps_the_system_entry_but_not_the_messages_one(
    send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    messages = [{"role": "user", "content": [cached(manual(edition + "-question", rules=5))]}]
    system = [cached(manual(edition))]
    send(system=system, messages=messages, tool_choice={"type": "auto"})
    same = send(system=system, messages=messages, tool_choice={"type": "auto"})
    changed = send(system=system, messages=messages, tool_choice={"type": "none"})
    assert same.write_5m == 0 and same.read > system_prefix(tokens, manual(edition))
    assert changed.read == system_prefix(tokens, manual(edition))
    assert changed.write_5m == same.read - changed.read


def test_a_prewarm_writes_the_cache_and_returns_no_content(
    client: anthropic.Anthropic, edition: str, transport: str, tokens: Callable[[str], int]
) -> None:
    system = [cached(manual(edition))]
    warm = client.messages.create(model=MODEL, max_tokens=0, system=system, messages=QUESTION)
    prefix = system_prefix(tokens, manual(edition))
    assert (warm.content, warm.stop_reason, warm.usage.output_tokens) == ([], "max_tokens", 0)
    assert Split.of(warm.usage) == Split(0, prefix, 0, count(client, system=system) - prefix)
    assert send_with(client, transport, system=system).read == prefix


def test_the_top_level_cache_control_caches_up_to_the_last_block(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    system = manual(edition)
    first = send(system=system, cache_control={"type": "ephemeral"})
    second = send(system=system, cache_control={"type": "ephemeral"})
    total = count(client, system=system)
    assert (first.read, first.uncached) == (0, second.uncached)
    assert second.read == first.write_5m == total - second.uncached
    assert second.uncached == tokens("<|im_end|>\n<|im_start|>assistant\n")  # after the text


def test_the_claude_code_billing_header_neither_reaches_the_prompt_nor_breaks_the_prefix(
    client: anthropic.Anthropic, send: Send, edition: str, tokens: Callable[[str], int]
) -> None:
    def system(request_hash: str) -> list[dict[str, Any]]:
        header = f"x-anthropic-billing-header: cc_version=2.1.154; cch={request_hash};"
        return [plain(header), cached(manual(edition))]

    send(system=system("9f1e2"))
    usage = send(system=system("07ab4"))
    assert usage.read == system_prefix(tokens, manual(edition))
    assert count(client, system=system("07ab4")) == count(client, system=manual(edition))


def bad_request(client: anthropic.Anthropic, **body: Any) -> str:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(**{"model": MODEL, "max_tokens": 1, "messages": QUESTION, **body})
    assert raised.value.status_code == 400
    message: str = raised.value.body["error"]["message"]  # type: ignore[index]
    return message


def test_five_breakpoints_are_a_bad_request(client: anthropic.Anthropic) -> None:
    system = [cached(f"part {i}") for i in range(5)]
    assert bad_request(client, system=system) == (
        "A maximum of 4 blocks with cache_control may be provided. Found 5."
    )


def test_count_tokens_checks_the_breakpoints_too(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        count(client, system=[cached(f"part {i}") for i in range(5)])


def test_the_automatic_breakpoint_counts_toward_the_four(client: anthropic.Anthropic) -> None:
    system = [cached(f"part {i}") for i in range(4)]
    message = bad_request(client, system=system, cache_control={"type": "ephemeral"})
    assert "already has 4 cache_control blocks" in message


def test_the_automatic_breakpoint_may_repeat_the_same_ttl(client: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": [cached("Hi", "1h")]}]
    response = client.messages.create(
        model=MODEL,
        max_tokens=1,
        messages=messages,  # type: ignore[arg-type]
        cache_control={"type": "ephemeral", "ttl": "1h"},
    )
    assert response.usage.input_tokens == count(client, messages=messages)  # below the minimum


def test_an_automatic_ttl_that_differs_from_the_last_blocks_is_a_bad_request(
    client: anthropic.Anthropic,
) -> None:
    messages = [{"role": "user", "content": [cached("Hi", "5m")]}]
    message = bad_request(
        client, messages=messages, cache_control={"type": "ephemeral", "ttl": "1h"}
    )
    assert "differs from the ttl '5m'" in message


def test_a_one_hour_breakpoint_after_a_five_minute_one_is_a_bad_request(
    client: anthropic.Anthropic,
) -> None:
    message = bad_request(client, system=[cached("first", "5m"), cached("second", "1h")])
    assert "must not come after" in message


def test_cache_control_on_an_empty_text_block_is_a_bad_request(
    client: anthropic.Anthropic,
) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [cached("")]},
    ]
    message = bad_request(client, messages=messages)
    assert message == "messages.1.content.0.cache_control: cannot be set for empty text blocks"
