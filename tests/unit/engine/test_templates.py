"""Chat formats: each known one renders its own turn markers, and a model's format comes from
its catalog setting, its file, or its architecture and vocabulary, else it is refused."""

from __future__ import annotations

import pytest

from parley.domain.prompt import Conversation, Turn
from parley.engine.llama.chat import ChatTemplate
from parley.engine.llama.templates import KNOWN, UnknownChatFormat, choose_template

TALK = Conversation(
    turns=(
        Turn("system", "Be brief."),
        Turn("user", "Hi"),
        Turn("assistant", "Hello."),
        Turn("user", "Primes?"),
    )
)


def render(name: str, conversation: Conversation = TALK) -> str:
    return ChatTemplate(KNOWN[name], bos_token="<s>", eos_token="</s>").render(conversation)


def test_gemma_uses_its_turn_markers_and_opens_the_first_user_turn_with_the_system() -> None:
    assert render("gemma") == (
        "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nPrimes?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_gemma_folds_a_later_system_turn_into_a_user_turn() -> None:
    talk = Conversation(turns=(Turn("user", "Hi"), Turn("system", "Now be terse.")))
    assert render("gemma", talk) == (
        "<s><start_of_turn>user\nHi\n\nNow be terse.<end_of_turn>\n<start_of_turn>model\n"
    )


def test_llama3_uses_header_ids_and_eot() -> None:
    assert render("llama3") == (
        "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nPrimes?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_mistral_wraps_user_turns_in_inst() -> None:
    assert render("mistral") == "<s>[INST] Be brief.\n\nHi[/INST]Hello.</s>[INST] Primes?[/INST]"


def test_phi3_uses_role_tags_and_end() -> None:
    assert render("phi3") == (
        "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n"
        "<|user|>\nPrimes?<|end|>\n<|assistant|>\n"
    )


@pytest.mark.parametrize("name", ["chatml", "qwen"])
def test_chatml_and_qwen_use_im_start(name: str) -> None:
    assert render(name) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nPrimes?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def choose(
    setting: str | None = None,
    embedded: str | None = None,
    architecture: str | None = "llama",
    specials: frozenset[str] = frozenset(),
) -> tuple[str | None, str]:
    chosen = choose_template(
        model_id="m",
        setting=setting,
        embedded=embedded,
        architecture=architecture,
        is_special_token=specials.__contains__,
    )
    return chosen.format, chosen.source


def test_the_setting_names_a_known_format_over_the_files_template() -> None:
    assert choose("gemma", embedded="{{ x }}") == ("gemma", KNOWN["gemma"])


def test_the_setting_may_be_a_jinja_template() -> None:
    assert choose("{% for m in messages %}{{ m.content }}{% endfor %}")[0] is None


def test_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(UnknownChatFormat, match="'vicuna' is neither a known format"):
        choose("vicuna")


def test_the_files_template_comes_before_the_architecture() -> None:
    own = "{{ '<|im_start|>' }}{{ '<|im_end|>' }}"
    assert choose(embedded=own, architecture="gemma3") == ("chatml", own)


def test_a_file_template_with_hermes_tool_calls_is_qwen() -> None:
    own = "<|im_start|>{% if tools %}<tool_call>{% endif %}<|im_end|>"
    assert choose(embedded=own)[0] == "qwen"


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [("gemma3", "gemma"), ("gemma2", "gemma"), ("qwen3", "qwen"), ("phi3", "phi3")],
)
def test_a_file_without_template_is_known_by_its_architecture(
    architecture: str, expected: str
) -> None:
    assert choose(architecture=architecture)[0] == expected


@pytest.mark.parametrize(
    ("markers", "expected"),
    [
        ({"<|start_header_id|>", "<|eot_id|>"}, "llama3"),
        ({"<|im_start|>", "<|im_end|>"}, "chatml"),
        ({"[INST]", "[/INST]"}, "mistral"),
    ],
)
def test_a_shared_architecture_is_told_apart_by_its_special_tokens(
    markers: set[str], expected: str
) -> None:
    assert choose(architecture="llama", specials=frozenset(markers))[0] == expected


def test_a_model_nothing_fits_is_refused_with_what_to_set() -> None:
    with pytest.raises(UnknownChatFormat) as refused:
        choose(architecture="rwkv6")
    assert str(refused.value) == (
        "model 'm': its GGUF file has no chat template, and its architecture (rwkv6) and "
        "vocabulary match no known chat format. Set `chat_template` in its [[models]] entry to "
        "one of chatml, gemma, llama3, mistral, phi3, qwen, or to the Jinja template of the "
        "model's card"
    )
