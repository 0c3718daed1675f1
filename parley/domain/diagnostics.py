"""`diagnostics.previous_message_id`: why this request's prompt could not reuse the cache
that the named earlier request's prompt left, from fingerprints of the two prompts' segments."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from parley.domain.prompt import Block, is_billing_header
from parley.wire.content import TextBlockParam
from parley.wire.messages import MessageParam, ToolParam


@dataclass(frozen=True)
class Fingerprint:
    """Hashes of a prompt's segments and the token position where each one ends."""

    model: str
    tools: str
    system: str
    messages: tuple[str, ...]
    tools_end: int
    system_end: int
    message_ends: tuple[int, ...]
    total: int


def _digest(value: Any) -> str:
    """Hash of the canonical JSON, without cache_control markers: moving a breakpoint does not
    change the prompt."""

    def strip(node: Any) -> Any:
        if isinstance(node, BaseModel):
            return strip(node.model_dump(mode="json", exclude_none=True, by_alias=True))
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "cache_control"}
        if isinstance(node, list | tuple):
            return [strip(v) for v in node]
        return node

    text = json.dumps(strip(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(
    model: str,
    tools: Sequence[ToolParam] | None,
    system: str | Sequence[TextBlockParam] | None,
    messages: Sequence[MessageParam],
    blocks: Sequence[Block],
    block_ends: Sequence[int | None],
    total: int,
) -> Fingerprint:
    if system is not None and not isinstance(system, str):
        system = [block for block in system if not is_billing_header(block)]
    tools_end = system_end = 0
    message_ends = [0] * len(messages)
    for block, end in zip(blocks, block_ends, strict=True):
        end = total if end is None else end
        if block.section == "tools":
            tools_end = end
        elif block.section == "system":
            system_end = end
        elif block.message is not None:
            message_ends[block.message] = end
    system_end = max(system_end, tools_end)
    running = system_end
    for index, end in enumerate(message_ends):
        running = message_ends[index] = max(end, running)
    return Fingerprint(
        model=model,
        tools=_digest(tools or []),
        system=_digest(system or ""),
        messages=tuple(_digest(message) for message in messages),
        tools_end=tools_end,
        system_end=system_end,
        message_ends=tuple(message_ends),
        total=total,
    )


def cache_miss_reason(previous: Fingerprint | None, current: Fingerprint) -> dict[str, Any] | None:
    """The first segment in prefix order that differs, and roughly how many of the previous
    prompt's tokens could have been read from the cache had it not; None when the previous
    prompt is a prefix of this one."""
    if previous is None:
        return {"type": "previous_message_not_found"}
    if previous.model != current.model:
        return {"type": "model_changed", "cache_missed_input_tokens": previous.total}
    if previous.tools != current.tools:
        return {"type": "tools_changed", "cache_missed_input_tokens": previous.total}
    if previous.system != current.system:
        missed = previous.total - previous.tools_end
        return {"type": "system_changed", "cache_missed_input_tokens": missed}
    for index, digest in enumerate(previous.messages):
        if index >= len(current.messages) or current.messages[index] != digest:
            kept = previous.message_ends[index - 1] if index else previous.system_end
            return {"type": "messages_changed", "cache_missed_input_tokens": previous.total - kept}
    return None
