"""Which chat format a model is prompted in: the catalog entry's `chat_template` setting (a
known name or a Jinja string), else the template in the GGUF file, else a known format told by
the file's architecture and special tokens. A model that none of these fits is refused at load,
with what to set: a guessed format makes a model answer garbage without any error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Gemma has no system role: the system turn opens the first user turn, as Gemma's own
# template does. A system turn later on is refused, and the renderer folds it into a user turn.
GEMMA = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% if not loop.first %}{{ raise_exception('system turns must come first') }}{% endif %}"
    "{% set ns.system = message['content'] + '\n\n' %}"
    "{% else %}{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else 'user')"
    " + '\n' + ns.system + message['content'] + '<end_of_turn>\n' }}{% set ns.system = '' %}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role']"
    " + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
# Mistral's instruct format: the system text opens the first user turn.
MISTRAL = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% if not loop.first %}{{ raise_exception('system turns must come first') }}{% endif %}"
    "{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}"
    "{{ '[INST] ' + ns.system + message['content'] + '[/INST]' }}"
    "{% set ns.system = '' %}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)
PHI3 = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content']"
    " + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

KNOWN: dict[str, str] = {
    "chatml": CHATML,
    "gemma": GEMMA,
    "llama3": LLAMA3,
    "mistral": MISTRAL,
    "phi3": PHI3,
    "qwen": CHATML,
}
# Architectures whose chat format is theirs alone (general.architecture in the GGUF).
BY_ARCHITECTURE: dict[str, str] = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "qwen2": "qwen",
    "qwen2moe": "qwen",
    "qwen3": "qwen",
    "qwen3moe": "qwen",
    "phi3": "phi3",
}
# Shared architectures (Llama's is used by Llama 3, Mistral, SmolLM and more) are told apart
# by the turn markers their vocabulary holds as single special tokens.
BY_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("llama3", ("<|start_header_id|>", "<|eot_id|>")),
    ("chatml", ("<|im_start|>", "<|im_end|>")),
    ("gemma", ("<start_of_turn>", "<end_of_turn>")),
    ("mistral", ("[INST]", "[/INST]")),
    ("phi3", ("<|assistant|>", "<|end|>")),
)


@dataclass(frozen=True)
class ChosenTemplate:
    """`format`: the known format's name, or None for a template of the file's or the
    operator's own (rendered as given; tools in Parley's generic format)."""

    source: str
    format: str | None
    origin: str  # where it came from, for messages and logs


class UnknownChatFormat(ValueError):
    pass


def choose_template(
    *,
    model_id: str,
    setting: str | None,
    embedded: str | None,
    architecture: str | None,
    is_special_token: Callable[[str], bool],
) -> ChosenTemplate:
    if setting is not None:
        if setting in KNOWN:
            return ChosenTemplate(KNOWN[setting], setting, "the chat_template setting")
        if "{{" in setting or "{%" in setting:
            return ChosenTemplate(setting, None, "the chat_template setting")
        raise UnknownChatFormat(
            f"model {model_id!r}: chat_template {setting!r} is neither a known format "
            f"({', '.join(sorted(KNOWN))}) nor a Jinja template"
        )
    if embedded:
        return ChosenTemplate(embedded, known_format_of(embedded), "the GGUF file")
    name = BY_ARCHITECTURE.get(architecture or "")
    if name is None:
        for candidate, markers in BY_MARKERS:
            if all(is_special_token(marker) for marker in markers):
                name = candidate
                break
    if name is None:
        raise UnknownChatFormat(
            f"model {model_id!r}: its GGUF file has no chat template, and its architecture "
            f"({architecture or 'unnamed'}) and vocabulary match no known chat format. Set "
            f"`chat_template` in its [[models]] entry to one of {', '.join(sorted(KNOWN))}, "
            "or to the Jinja template of the model's card"
        )
    return ChosenTemplate(KNOWN[name], name, f"its architecture ({architecture})")


def known_format_of(template: str) -> str | None:
    """The known format a file's own template writes, told by its turn markers; its tool
    calls can then be written the way that format's models were trained to."""
    for name, markers in BY_MARKERS:
        if all(marker in template for marker in markers):
            return "qwen" if name == "chatml" and "<tool_call>" in template else name
    return None
