"""Normalises a Messages request into a neutral conversation that a chat template can render.

Rules of the contract applied here: system as a string or text blocks, `system`/`ctx`/`msg`
roles inside `messages[]`, consecutive same-role turns merged, a final assistant turn as the
prefill that the answer continues, and Claude Code's billing header kept out of the prompt;
mid-conversation `role: "system"` messages (their `clear_at`, tool changes), and a `compaction`
summary first in `messages`, read as part of the system turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from parley.domain.tool_changes import ToolSet
from parley.domain.tools import GENERIC, INSTRUCTION, ToolFormat, tool_line
from parley.errors import InvalidRequestError
from parley.wire.common import CacheControlEphemeral
from parley.wire.content import (
    CompactionBlockParam,
    DocumentBlockParam,
    ImageBlockParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    ThinkingBlockParam,
    ToolAdditionBlockParam,
    ToolRemovalBlockParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from parley.wire.messages import MessageParam, ToolParam

ChatRole = Literal["system", "user", "assistant"]
BILLING_HEADER_PREFIX = "x-anthropic-billing-header"
_ROLE_MAP: dict[str, ChatRole] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "ctx": "user",
    "msg": "user",
}


CacheTtl = Literal["5m", "1h"]
Section = Literal["tools", "system", "messages"]
SEPARATOR = "\n\n"  # between the blocks of one turn, and between merged turns
SUMMARY_HEADING = "Summary of the conversation so far:"


@dataclass(frozen=True)
class Block:
    """One content block of the request, in the prompt's prefix order (tools, system,
    messages): the unit that `cache_control` breakpoints and the cache lookback count in.
    `cacheable`: it renders something, so a breakpoint may sit on it."""

    section: Section
    message: int | None
    ttl: CacheTtl | None
    cacheable: bool


@dataclass(frozen=True)
class Turn:
    """`marks`: (block index, offset in `text` where that block's text ends), so the engine
    can find each block's end in the rendered prompt."""

    role: ChatRole
    text: str
    marks: tuple[tuple[int, int], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    prefill: str = ""
    prefill_marks: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    blocks: tuple[Block, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ModelAbilities:
    image_input: bool = False


def system_text(system: str | Sequence[TextBlockParam] | None) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    return SEPARATOR.join(b.text for b in system if not is_billing_header(b))


def is_billing_header(block: TextBlockParam) -> bool:
    """Claude Code's per-request billing header: request metadata, never prompt."""
    return block.text.startswith(BILLING_HEADER_PREFIX)


class _Builder:
    """Collects turns (merging same-role ones) and the blocks in prefix order."""

    def __init__(self, tool_format: ToolFormat) -> None:
        self.tool_format = tool_format
        self.turns: list[tuple[ChatRole, list[str], list[tuple[int, int]]]] = []
        self.blocks: list[Block] = []

    def block(
        self,
        section: Section,
        message: int | None,
        text: str | None,
        cache_control: CacheControlEphemeral | None,
    ) -> int:
        ttl: CacheTtl | None = None
        if cache_control is not None:
            ttl = cache_control.ttl or "5m"
        self.blocks.append(Block(section, message, ttl, cacheable=bool(text)))
        return len(self.blocks) - 1

    def add(self, role: ChatRole, texts: list[tuple[int, str]]) -> None:
        if not self.turns or self.turns[-1][0] != role:
            self.turns.append((role, [], []))
        _, parts, marks = self.turns[-1]
        for block, text in texts:
            parts.append(text)
            marks.append((block, len(SEPARATOR.join(parts))))


def build_conversation(
    system: str | Sequence[TextBlockParam] | None,
    messages: Sequence[MessageParam],
    abilities: ModelAbilities,
    tools: Sequence[ToolParam] | None = None,
    tool_format: ToolFormat = GENERIC,
) -> Conversation:
    """`tool_format`: how the model's chat format writes tools, calls and results."""
    if not messages:
        raise InvalidRequestError("messages: at least one message is required")
    builder = _Builder(tool_format)
    tool_set = ToolSet(tools or [])
    head = _tool_texts(tools or [], builder) + _system_texts(system, builder)
    head += _summary_texts(messages[0], builder)
    if head:
        builder.add("system", head)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    for index, message in enumerate(messages):
        _check_system_fields(message, index)
        cleared = message.clear_at == "next_user_message" and index < last_user
        texts = _texts_of(message, index, abilities, builder, tool_set)
        if texts and not cleared:
            builder.add(_ROLE_MAP[message.role], texts)
    prefill, prefill_marks = "", tuple[tuple[int, int], ...]()
    if builder.turns and builder.turns[-1][0] == "assistant":
        _, parts, marks = builder.turns.pop()
        prefill, prefill_marks = SEPARATOR.join(parts), tuple(marks)
        if prefill != prefill.rstrip():
            raise InvalidRequestError("final assistant content cannot end with trailing whitespace")
    turns = tuple(
        Turn(role, SEPARATOR.join(parts), tuple(marks)) for role, parts, marks in builder.turns
    )
    if not any(t.role != "system" for t in turns) and not prefill:
        raise InvalidRequestError("messages: at least one user or assistant turn is required")
    return Conversation(turns, prefill, prefill_marks, tuple(builder.blocks))


def _tool_texts(tools: Sequence[ToolParam], builder: _Builder) -> list[tuple[int, str]]:
    """Tools come first in the prompt's prefix order, one block each."""
    if not tools:
        return []
    texts = builder.tool_format.definitions(tools)
    return [
        (builder.block("tools", None, text, tool.cache_control), text)
        for tool, text in zip(tools, texts, strict=True)
    ]


def _system_texts(
    system: str | Sequence[TextBlockParam] | None, builder: _Builder
) -> list[tuple[int, str]]:
    if system is None:
        return []
    if isinstance(system, str):
        return [(builder.block("system", None, system, None), system)] if system else []
    texts: list[tuple[int, str]] = []
    for position, block in enumerate(system):
        if is_billing_header(block):
            builder.block("system", None, None, None)  # counts as a position, renders nothing
            continue
        _check_cacheable_text(block, f"system.{position}")
        texts.append((builder.block("system", None, block.text, block.cache_control), block.text))
    return texts


def _summary_texts(first: MessageParam, builder: _Builder) -> list[tuple[int, str]]:
    """A conversation that starts with a `compaction` block reads its summary in the system
    turn; a failed compaction (no content) renders nothing."""
    if isinstance(first.content, str) or not first.content:
        return []
    block = first.content[0]
    if not isinstance(block, CompactionBlockParam):
        return []
    handle = builder.block("messages", 0, block.content, block.cache_control)
    return [(handle, f"{SUMMARY_HEADING}\n{block.content}")] if block.content else []


def _check_system_fields(message: MessageParam, index: int) -> None:
    if message.role != "system":
        for name in ("clear_at", "output_config"):
            if getattr(message, name) is not None:
                raise InvalidRequestError(
                    f'messages.{index}.{name}: only permitted on role: "system" messages'
                )
    elif not message.content and message.output_config is None:
        raise InvalidRequestError(
            f"messages.{index}: a system message needs content or output_config"
        )


def _check_cacheable_text(block: TextBlockParam, where: str) -> None:
    if block.cache_control is not None and not block.text:
        raise InvalidRequestError(f"{where}.cache_control: cannot be set for empty text blocks")


def _texts_of(
    message: MessageParam,
    index: int,
    abilities: ModelAbilities,
    builder: _Builder,
    tool_set: ToolSet,
) -> list[tuple[int, str]]:
    if isinstance(message.content, str):
        if not message.content and message.role == "system":
            return []
        return [(builder.block("messages", index, message.content, None), message.content)]
    texts: list[tuple[int, str]] = []
    for position, block in enumerate(message.content):
        where = f"messages.{index}.content.{position}"
        if isinstance(block, CompactionBlockParam):
            if index or position:
                raise InvalidRequestError(
                    f"{where}: a compaction block may only come first in messages"
                )
            continue  # read in the system turn (_summary_texts)
        if isinstance(block, ToolAdditionBlockParam | ToolRemovalBlockParam):
            if message.role != "system":
                raise InvalidRequestError(
                    f'{where}: {block.type} blocks belong to role: "system" messages'
                )
            text = _tool_change_text(block, where, tool_set)
            texts.append((builder.block("messages", index, text, block.cache_control), text))
        elif isinstance(block, TextBlockParam):
            if not block.text and message.role != "assistant":
                raise InvalidRequestError(f"{where}.text: text content blocks must be non-empty")
            _check_cacheable_text(block, where)
            handle = builder.block("messages", index, block.text, block.cache_control)
            texts.append((handle, block.text))
        elif isinstance(block, ThinkingBlockParam | RedactedThinkingBlockParam):
            # earlier turns' thinking is not part of the context, as on the hosted API
            builder.block("messages", index, None, None)
        elif isinstance(block, ImageBlockParam):
            if not abilities.image_input:
                raise InvalidRequestError(f"{where}: this model does not support image input")
        elif isinstance(block, DocumentBlockParam):
            raise InvalidRequestError(f"{where}: this model does not support document input")
        elif isinstance(block, ToolUseBlockParam):
            if message.role != "assistant":
                raise InvalidRequestError(f"{where}: tool_use blocks belong to assistant turns")
            text = builder.tool_format.call(block)
            texts.append((builder.block("messages", index, text, block.cache_control), text))
        elif isinstance(block, ToolResultBlockParam):
            if message.role == "assistant":
                raise InvalidRequestError(f"{where}: tool_result blocks belong to user turns")
            text = builder.tool_format.result(block, where)
            texts.append((builder.block("messages", index, text, block.cache_control), text))
        else:
            raise InvalidRequestError(f"{where}.type: '{block.type}' blocks are not supported")
    return texts


def _tool_change_text(
    block: ToolAdditionBlockParam | ToolRemovalBlockParam, where: str, tool_set: ToolSet
) -> str:
    if isinstance(block, ToolRemovalBlockParam):
        return f"The tool {tool_set.remove(block, where)} is no longer available: do not call it."
    first = not tool_set.offered
    line = tool_line(tool_set.add(block, where))
    return f"{INSTRUCTION}\n{line}" if first else f"One more tool is available:\n{line}"
