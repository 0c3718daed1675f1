"""What a thread record pins, and when it expires."""

from __future__ import annotations

from parley.domain.threads import ThreadRecord, without_cache_control

NOW = 1_800_000_000.0


def record(started_at: float = NOW, stored_at: float = NOW) -> ThreadRecord:
    return ThreadRecord("m", "Be brief.", [{"name": "t"}], [], started_at, stored_at)


def test_a_reply_expires_five_minutes_after_it_was_stored() -> None:
    assert not record().expired(NOW + 300)
    assert record().expired(NOW + 300.5)


def test_a_thread_expires_an_hour_after_its_create_however_busy() -> None:
    busy = record(started_at=NOW - 3500, stored_at=NOW)
    assert not busy.expired(NOW + 100)
    assert busy.expired(NOW + 101)


def test_a_continue_may_leave_out_system_and_tools() -> None:
    assert record().differing("m", None, None, {"model", "messages"}) == []


def test_a_continue_that_changes_the_model_or_resends_other_tools_differs() -> None:
    sent = {"model", "tools", "system"}
    assert record().differing("m2", "Be brief.", [{"name": "u"}], sent) == ["model", "tools"]


def test_cache_control_is_dropped_from_blocks_but_not_from_free_form_values() -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
            {"type": "tool_use", "id": "t", "name": "n", "input": {"cache_control": 1}},
        ],
    }
    assert without_cache_control([message]) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "t", "name": "n", "input": {"cache_control": 1}},
            ],
        }
    ]
