"""ChatTemplate: a conversation rendered with a jinja chat template, prefill appended."""

from __future__ import annotations

import pytest

from parley.domain.prompt import Conversation, Turn
from parley.engine.llama.chat import ChatTemplate
from parley.errors import InvalidRequestError

SYSTEM_FIRST_ONLY = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('System role only allowed first') }}"
    "{% endif %}"
    "[{{ m['role'] }}]{{ m['content'] }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


def test_the_default_is_chatml_with_a_generation_prompt() -> None:
    conversation = Conversation(turns=(Turn("system", "Be brief."), Turn("user", "Hi")))
    assert ChatTemplate(None).render(conversation) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_prefill_is_appended_after_the_generation_prompt() -> None:
    conversation = Conversation(turns=(Turn("user", "Hi"),), prefill="The answer is")
    assert ChatTemplate(None).render(conversation) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nThe answer is"
    )


def test_the_models_own_template_is_used() -> None:
    template = ChatTemplate(SYSTEM_FIRST_ONLY)
    conversation = Conversation(turns=(Turn("system", "S"), Turn("user", "Hi")))
    assert template.render(conversation) == "[system]S[user]Hi[assistant]"


def test_bos_and_eos_tokens_reach_the_template() -> None:
    template = ChatTemplate(
        "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}",
        bos_token="<s>",
        eos_token="</s>",
    )
    assert template.render(Conversation(turns=(Turn("user", "Hi"),))) == "<s>Hi</s>"


def test_mid_conversation_system_turns_are_folded_into_user_turns() -> None:
    conversation = Conversation(
        turns=(
            Turn("system", "S"),
            Turn("user", "Hi"),
            Turn("system", "Be brief."),
            Turn("user", "Why?"),
        )
    )
    assert ChatTemplate(SYSTEM_FIRST_ONLY).render(conversation) == (
        "[system]S[user]Hi\n\nBe brief.\n\nWhy?[assistant]"
    )


def test_a_folded_system_turn_after_an_assistant_turn_becomes_its_own_user_turn() -> None:
    conversation = Conversation(
        turns=(Turn("user", "Hi"), Turn("assistant", "Hello"), Turn("system", "Be brief.")),
    )
    assert ChatTemplate(SYSTEM_FIRST_ONLY).render(conversation) == (
        "[user]Hi[assistant]Hello[user]Be brief.[assistant]"
    )


def test_a_template_that_refuses_anyway_is_a_400() -> None:
    template = ChatTemplate("{{ raise_exception('Conversation roles must alternate') }}")
    with pytest.raises(InvalidRequestError, match="Conversation roles must alternate"):
        template.render(Conversation(turns=(Turn("user", "Hi"),)))
