"""cache_miss_reason: the first prompt segment that changed, and what it cost."""

from __future__ import annotations

from dataclasses import replace

from parley.domain.diagnostics import Fingerprint, cache_miss_reason

BEFORE = Fingerprint(
    model="m",
    tools="t",
    system="s",
    messages=("a", "b", "c"),
    tools_end=100,
    system_end=300,
    message_ends=(400, 500, 650),
    total=656,
)


def test_no_previous_fingerprint_is_not_found() -> None:
    assert cache_miss_reason(None, BEFORE) == {"type": "previous_message_not_found"}


def test_an_appended_conversation_is_no_miss() -> None:
    assert cache_miss_reason(BEFORE, replace(BEFORE, messages=("a", "b", "c", "d"))) is None


def test_a_model_change_misses_the_whole_previous_prompt() -> None:
    assert cache_miss_reason(BEFORE, replace(BEFORE, model="n")) == {
        "type": "model_changed",
        "cache_missed_input_tokens": 656,
    }


def test_a_tools_change_misses_the_whole_previous_prompt() -> None:
    assert cache_miss_reason(BEFORE, replace(BEFORE, tools="u")) == {
        "type": "tools_changed",
        "cache_missed_input_tokens": 656,
    }


def test_a_system_change_keeps_the_tools() -> None:
    assert cache_miss_reason(BEFORE, replace(BEFORE, system="x")) == {
        "type": "system_changed",
        "cache_missed_input_tokens": 556,
    }


def test_a_changed_message_keeps_what_came_before_it() -> None:
    assert cache_miss_reason(BEFORE, replace(BEFORE, messages=("a", "x", "c"))) == {
        "type": "messages_changed",
        "cache_missed_input_tokens": 256,
    }
