"""build_conversation: the contract's rules for turning a Messages body into chat turns."""

from __future__ import annotations

from typing import Any

import pytest

from parley.domain.prompt import ModelAbilities, Turn, build_conversation, system_text
from parley.errors import InvalidRequestError
from parley.wire.content import TextBlockParam
from parley.wire.messages import MessageParam

TEXT_ONLY = ModelAbilities()
BILLING = "x-anthropic-billing-header: cc_version=2.1.154.abc; cc_entrypoint=cli; cch=9f1e2;"


def turns(*messages: dict[str, Any]) -> list[MessageParam]:
    return [MessageParam.model_validate(m) for m in messages]


def text(value: str) -> TextBlockParam:
    return TextBlockParam(type="text", text=value)


def test_a_single_user_turn_becomes_one_user_turn() -> None:
    conversation = build_conversation(None, turns({"role": "user", "content": "Hi"}), TEXT_ONLY)
    assert conversation.turns == (Turn("user", "Hi"),)
    assert conversation.prefill == ""


def test_consecutive_same_role_turns_are_merged_with_a_blank_line() -> None:
    conversation = build_conversation(
        None,
        turns(
            {"role": "user", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
        ),
        TEXT_ONLY,
    )
    assert conversation.turns == (Turn("user", "Hello.\n\nHow are you?"),)


def test_text_blocks_of_one_turn_are_joined_with_a_blank_line() -> None:
    message = {
        "role": "user",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }
    assert build_conversation(None, turns(message), TEXT_ONLY).turns == (Turn("user", "a\n\nb"),)


@pytest.mark.parametrize("role", ["ctx", "msg"])
def test_claude_code_context_roles_become_user_turns(role: str) -> None:
    conversation = build_conversation(
        None,
        turns(
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
            {"role": role, "content": "context"},
        ),
        TEXT_ONLY,
    )
    assert conversation.turns[-1] == Turn("user", "context")


def test_a_system_role_inside_messages_is_kept_as_a_system_turn() -> None:
    conversation = build_conversation(
        None,
        turns(
            {"role": "user", "content": "q"},
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "again"},
        ),
        TEXT_ONLY,
    )
    assert conversation.turns == (
        Turn("user", "q"),
        Turn("system", "be brief"),
        Turn("user", "again"),
    )


def test_the_system_parameter_comes_first() -> None:
    conversation = build_conversation("S", turns({"role": "user", "content": "q"}), TEXT_ONLY)
    assert conversation.turns == (Turn("system", "S"), Turn("user", "q"))


def test_a_final_assistant_turn_is_the_prefill() -> None:
    conversation = build_conversation(
        None,
        turns({"role": "user", "content": "q"}, {"role": "assistant", "content": "The answer is"}),
        TEXT_ONLY,
    )
    assert conversation.turns == (Turn("user", "q"),)
    assert conversation.prefill == "The answer is"


def test_an_earlier_assistant_turn_is_not_a_prefill() -> None:
    conversation = build_conversation(
        None,
        turns(
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "more"},
        ),
        TEXT_ONLY,
    )
    assert conversation.turns == (Turn("user", "q"), Turn("assistant", "a"), Turn("user", "more"))
    assert conversation.prefill == ""


@pytest.mark.parametrize("tail", [" ", "\n", "\t"])
def test_a_prefill_ending_in_whitespace_is_a_400(tail: str) -> None:
    with pytest.raises(InvalidRequestError, match="cannot end with trailing whitespace"):
        build_conversation(
            None,
            turns({"role": "user", "content": "q"}, {"role": "assistant", "content": "The" + tail}),
            TEXT_ONLY,
        )


def test_the_billing_header_system_block_is_dropped() -> None:
    assert system_text([text(BILLING), text("You are Claude Code.")]) == "You are Claude Code."


def test_system_blocks_are_joined_with_a_blank_line() -> None:
    assert system_text([text("one"), text("two")]) == "one\n\ntwo"


def test_a_billing_header_alone_leaves_no_system_turn() -> None:
    conversation = build_conversation(
        [text(BILLING)], turns({"role": "user", "content": "q"}), TEXT_ONLY
    )
    assert conversation.turns == (Turn("user", "q"),)


def test_an_empty_user_text_block_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        build_conversation(
            None,
            turns({"role": "user", "content": [{"type": "text", "text": ""}]}),
            TEXT_ONLY,
        )
    assert raised.value.message == (
        "messages.0.content.0.text: text content blocks must be non-empty"
    )


def test_no_messages_is_a_400() -> None:
    with pytest.raises(InvalidRequestError, match=r"^messages: at least one message"):
        build_conversation("S", [], TEXT_ONLY)


def test_messages_with_no_content_and_no_system_are_a_400() -> None:
    # found by bench/fuzz.py: a `ctx` message with empty content was a 500
    with pytest.raises(InvalidRequestError, match=r"at least one user or assistant turn"):
        build_conversation(None, turns({"role": "ctx", "content": []}), TEXT_ONLY)


def test_an_image_for_a_text_only_model_is_a_400_naming_the_block() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    with pytest.raises(InvalidRequestError) as raised:
        build_conversation(
            None,
            turns({"role": "user", "content": [{"type": "text", "text": "see"}, image]}),
            TEXT_ONLY,
        )
    assert raised.value.message == "messages.0.content.1: this model does not support image input"


def test_earlier_thinking_blocks_are_left_out_of_the_context() -> None:
    conversation = build_conversation(
        None,
        turns(
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "a"},
                ],
            },
            {"role": "user", "content": "more"},
        ),
        TEXT_ONLY,
    )
    assert conversation.turns[1] == Turn("assistant", "a")


def test_an_unknown_block_type_is_a_400_naming_the_type() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        build_conversation(
            None,
            turns({"role": "user", "content": [{"type": "web_search_tool_result", "x": 1}]}),
            TEXT_ONLY,
        )
    assert raised.value.message == (
        "messages.0.content.0.type: 'web_search_tool_result' blocks are not supported"
    )
