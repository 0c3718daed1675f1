"""`compaction: {"type": "summarize"}` (reference §14): the whole request becomes a call that
asks the local model to summarize the conversation, and the reply is that summary as one
`compaction` block with `stop_reason: "compaction"`. A later request that starts with the
block reads the summary in its system turn (domain/prompt.py)."""

from __future__ import annotations

from dataclasses import replace

from parley.services.generation import Outcome
from parley.wire.messages import (
    CompactionBlock,
    ContentBlock,
    MessageCreateParams,
    MessageParam,
    TextBlock,
    ToolChoiceParam,
)
from parley.wire.stream import (
    CompactionDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    StreamEvent,
)

INSTRUCTIONS = (
    "Summarize the conversation above so that it can continue from the summary alone: the "
    "task, what was decided, what the tools returned that still matters, and what is left "
    "to do. Answer with the summary only."
)


def summarize_call(params: MessageCreateParams) -> MessageCreateParams:
    """The conversation, then the instructions as the last user turn. The tools stay in the
    prompt (its prefix is the conversation's, so its cache and KV still serve) but cannot be
    called; an output format does not apply to a summary."""
    asked = params.compaction
    instructions = (asked.instructions or "").strip() if asked else ""
    ask = MessageParam(role="user", content=instructions or INSTRUCTIONS)
    config = params.output_config
    return params.model_copy(
        update={
            "messages": [*params.messages, ask],
            "tool_choice": ToolChoiceParam(type="none") if params.tools else None,
            "output_config": None if config is None else config.model_copy(update={"format": None}),
            "stop_sequences": None,
        }
    )


def compacted(content: list[ContentBlock], outcome: Outcome) -> tuple[CompactionBlock, Outcome]:
    """The answer as the one `compaction` block; an empty answer is a failed compaction
    (content None), which clients may send back and the server treats as nothing."""
    text = "".join(block.text for block in content if isinstance(block, TextBlock)).strip()
    return CompactionBlock(content=text or None), replace(outcome, stop_reason="compaction")


def compaction_events(block: CompactionBlock) -> list[StreamEvent]:
    """The block's stream: its start without content, the whole summary as one delta."""
    return [
        ContentBlockStartEvent(index=0, content_block=CompactionBlock(content=None)),
        ContentBlockDeltaEvent(index=0, delta=CompactionDelta(content=block.content)),
        ContentBlockStopEvent(index=0),
    ]
