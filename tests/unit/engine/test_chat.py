"""ChatTemplate: a conversation rendered with a jinja chat template, prefill appended."""

from __future__ import annotations

import pytest

from parley.domain.prompt import Conversation, ModelAbilities, Turn, build_conversation
from parley.engine.llama.chat import ChatTemplate
from parley.engine.llama.templates import CHATML
from parley.errors import InvalidRequestError
from parley.wire.content import TextBlockParam
from parley.wire.messages import MessageParam

SYSTEM_FIRST_ONLY = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('System role only allowed first') }}"
    "{% endif %}"
    "[{{ m['role'] }}]{{ m['content'] }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


def test_chatml_ends_with_a_generation_prompt() -> None:
    conversation = Conversation(turns=(Turn("system", "Be brief."), Turn("user", "Hi")))
    assert ChatTemplate(CHATML).render(conversation) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_prefill_is_appended_after_the_generation_prompt() -> None:
    conversation = Conversation(turns=(Turn("user", "Hi"),), prefill="The answer is")
    assert ChatTemplate(CHATML).render(conversation) == (
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


def test_block_ends_are_character_offsets_in_the_rendered_prompt() -> None:
    conversation = build_conversation(
        [TextBlockParam(type="text", text="S")],
        [
            MessageParam(
                role="user",
                content=[
                    TextBlockParam(type="text", text="Hi"),
                    TextBlockParam(type="text", text="there"),
                ],
            )
        ],
        ModelAbilities(),
    )
    template = ChatTemplate(CHATML)
    text = template.render(conversation)
    ends = template.block_ends(conversation, text)
    assert [text[:end] for end in ends if end is not None] == [
        "<|im_start|>system\nS",
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi",
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi\n\nthere",
    ]


def test_a_template_that_rewrites_content_gives_no_block_ends() -> None:
    rewriting = "{% for m in messages %}[{{ m['role'] }}]{{ m['content'][:3] }}{% endfor %}"
    conversation = build_conversation(
        "system", [MessageParam(role="user", content="hello")], ModelAbilities()
    )
    template = ChatTemplate(rewriting)
    assert template.block_ends(conversation, template.render(conversation)) == [None, None]
