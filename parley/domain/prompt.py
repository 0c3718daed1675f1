"""Normalises a Messages request into a neutral conversation that a chat template can render.

Rules of the contract applied here: system as a string or text blocks, `system`/`ctx`/`msg`
roles inside `messages[]`, consecutive same-role turns merged, a final assistant turn as the
prefill that the answer continues, and Claude Code's billing header kept out of the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from parley.errors import InvalidRequestError
from parley.wire.content import (
    DocumentBlockParam,
    ImageBlockParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    ThinkingBlockParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from parley.wire.messages import MessageParam

ChatRole = Literal["system", "user", "assistant"]
BILLING_HEADER_PREFIX = "x-anthropic-billing-header"
_ROLE_MAP: dict[str, ChatRole] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "ctx": "user",
    "msg": "user",
}


@dataclass(frozen=True)
class Turn:
    role: ChatRole
    text: str


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    prefill: str = ""


@dataclass(frozen=True)
class ModelAbilities:
    image_input: bool = False


def system_text(system: str | Sequence[TextBlockParam] | None) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    texts = [b.text for b in system if not b.text.startswith(BILLING_HEADER_PREFIX)]
    return "\n\n".join(texts)


def build_conversation(
    system: str | Sequence[TextBlockParam] | None,
    messages: Sequence[MessageParam],
    abilities: ModelAbilities,
) -> Conversation:
    if not messages:
        raise InvalidRequestError("messages: at least one message is required")
    merged: list[tuple[ChatRole, list[str]]] = []
    head = system_text(system)
    if head:
        merged.append(("system", [head]))
    for index, message in enumerate(messages):
        role = _ROLE_MAP[message.role]
        texts = _texts_of(message, index, abilities)
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(texts)
        else:
            merged.append((role, texts))
    prefill = ""
    if merged[-1][0] == "assistant":
        prefill = "\n\n".join(merged.pop()[1])
        if prefill != prefill.rstrip():
            raise InvalidRequestError("final assistant content cannot end with trailing whitespace")
    turns = tuple(Turn(role, "\n\n".join(texts)) for role, texts in merged)
    if not any(t.role != "system" for t in turns) and not prefill:
        raise InvalidRequestError("messages: at least one user or assistant turn is required")
    return Conversation(turns=turns, prefill=prefill)


def _texts_of(message: MessageParam, index: int, abilities: ModelAbilities) -> list[str]:
    if isinstance(message.content, str):
        return [message.content]
    texts: list[str] = []
    for position, block in enumerate(message.content):
        where = f"messages.{index}.content.{position}"
        if isinstance(block, TextBlockParam):
            if not block.text and message.role != "assistant":
                raise InvalidRequestError(f"{where}.text: text content blocks must be non-empty")
            texts.append(block.text)
        elif isinstance(block, ThinkingBlockParam | RedactedThinkingBlockParam):
            continue  # earlier turns' thinking is not part of the context, as on the hosted API
        elif isinstance(block, ImageBlockParam):
            if not abilities.image_input:
                raise InvalidRequestError(f"{where}: this model does not support image input")
        elif isinstance(block, DocumentBlockParam):
            raise InvalidRequestError(f"{where}: this model does not support document input")
        elif isinstance(block, ToolUseBlockParam | ToolResultBlockParam):
            raise InvalidRequestError(f"{where}: {block.type} blocks are not supported yet")
        else:
            raise InvalidRequestError(f"{where}.type: '{block.type}' blocks are not supported")
    return texts
