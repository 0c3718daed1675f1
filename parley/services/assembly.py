"""Turns the generated text into content blocks: plain text, or tool calls read out of it.

One Assembler serves a request: fed the text pieces as they come, it yields stream events
(deltas that concatenate to the final blocks, whatever was held back), and at the end gives the
final content blocks and whether the answer called a tool.

- `text`: every piece is a text delta.
- `forced` (tool_choice any/tool): the grammar makes the answer `{"name": ..., "input": {...}}`;
  once the name is known a tool_use block starts and the input streams as input_json_delta,
  holding back the few characters that may be the wrapper's closing brace. A call cut short
  (max_tokens, a stop sequence) stays an incomplete tool_use block, as hosted: its input is
  what the JSON so far holds, read the way the SDK reads the deltas it was streamed.
- `auto`: text streams until a `<tool_call>` tag begins (a possible partial tag and trailing
  whitespace are held back); calls are parsed at the end and sent as tool_use blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic_core import from_json

from parley.domain.ids import tool_use_id
from parley.domain.tool_policy import ToolMode, ToolPolicy
from parley.domain.tools import GENERIC, Call, ToolFormat
from parley.wire.messages import ContentBlock, TextBlock, ToolUseBlock
from parley.wire.stream import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    InputJSONDelta,
    StreamEvent,
    TextDelta,
)

_NAME_THEN = r'^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"%s"\s*:\s*'
_NAME_SO_FAR = re.compile(r'^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)')
_HELD = 4  # the wrapper's closing brace and the spaces the grammar allows around it


class Assembler:
    def __init__(
        self,
        mode: ToolMode,
        tool_names: set[str],
        parallel: bool = True,
        opened: str = "",
        tool_format: ToolFormat = GENERIC,
    ) -> None:
        """`tool_names`: those a call may name (under `forced`, the forced ones). `opened`: a
        call's opening tag that a prefill already wrote; it is read as part of the answer but
        never sent. `tool_format`: how the model writes calls."""
        self._mode = mode
        self._format = tool_format
        self._tag = tool_format.opening.strip()  # what begins a call under `auto`
        self._name_then_input = re.compile(_NAME_THEN % re.escape(tool_format.arguments))
        self._names = tool_names
        self._parallel = parallel
        self._opened = len(opened)
        self._text = opened
        self._sent = len(opened)  # characters of the current block's stream already sent
        self._index = -1
        self._open = False
        self._tool: tuple[str, str] | None = None  # (id, name) of a forced call
        self._input_at = 0  # where a forced call's input starts in the text

    def feed(self, piece: str) -> Iterator[StreamEvent]:
        self._text += piece
        if self._mode == "forced":
            yield from self._feed_forced()
        else:
            yield from self._send_text(self._safe_text_end())

    def _start(self, block: TextBlock | ToolUseBlock) -> StreamEvent:
        self._index += 1
        self._open = True
        return ContentBlockStartEvent(index=self._index, content_block=block)

    def _stop(self) -> Iterator[StreamEvent]:
        if self._open:
            self._open = False
            yield ContentBlockStopEvent(index=self._index)

    def _send_text(self, end: int) -> Iterator[StreamEvent]:
        if end > self._sent:
            if not self._open:
                yield self._start(TextBlock(text=""))
            yield ContentBlockDeltaEvent(
                index=self._index, delta=TextDelta(text=self._text[self._sent : end])
            )
            self._sent = end

    def _safe_text_end(self) -> int:
        """How much text can go out: in auto mode, not a tag that may be starting, nor
        whitespace that may turn out to precede one."""
        if self._mode != "auto":
            return len(self._text)
        if not self._tag:  # a call is the whole answer: hold back what may become one
            return 0 if self._text.lstrip()[:1] in ("", "{") else len(self._text)
        tag = self._text.find(self._tag)
        end = tag if tag >= 0 else len(self._text)
        if tag < 0:
            for size in range(min(len(self._tag) - 1, len(self._text)), 0, -1):
                if self._tag.startswith(self._text[-size:]):
                    end = len(self._text) - size
                    break
        return len(self._text[:end].rstrip())

    def _feed_forced(self) -> Iterator[StreamEvent]:
        if self._tool is None:
            match = self._name_then_input.match(self._text)
            if match is None:
                return
            self._tool = (tool_use_id(), json.loads(f'"{match.group(1)}"'))
            self._input_at = self._sent = match.end()
            yield self._start(ToolUseBlock(id=self._tool[0], name=self._tool[1], input={}))
        if self._sent == self._input_at:  # the input's JSON starts at its first non-space
            rest = self._text[self._input_at :]
            self._input_at = self._sent = len(self._text) - len(rest.lstrip())
        end = len(self._text) - _HELD
        if end > self._sent:
            yield ContentBlockDeltaEvent(
                index=self._index, delta=InputJSONDelta(partial_json=self._text[self._sent : end])
            )
            self._sent = end

    def finish(self, complete: bool) -> tuple[list[StreamEvent], list[ContentBlock], bool]:
        """The remaining events, the final content blocks, and whether a tool was called.
        `complete`: generation ended on its own (not cut by max_tokens or a stop sequence)."""
        events: list[StreamEvent] = []
        if self._mode == "forced" and not (complete or self._is_whole_call()):
            return self._finish_cut_call()
        if self._mode == "forced" and self._tool is not None:
            call = self._format.parse_forced(self._text)
            input_text = self._text[self._input_at :].rstrip()[:-1].rstrip()
            if len(input_text) > self._sent - self._input_at:
                events.append(
                    ContentBlockDeltaEvent(
                        index=self._index,
                        delta=InputJSONDelta(
                            partial_json=input_text[self._sent - self._input_at :]
                        ),
                    )
                )
            events += self._stop()
            block = ToolUseBlock(id=self._tool[0], name=call.name, input=call.input)
            return events, [block], True
        calls: list[Call] = []
        head_end = len(self._text)
        if self._mode == "auto":
            before, calls = self._format.split_calls(self._text, self._names)
            calls = calls if self._parallel else calls[:1]
            if calls:
                head_end = max(self._opened, len(before))
        head = self._text[self._opened : head_end]
        events += self._send_text(head_end)
        blocks: list[ContentBlock] = [TextBlock(text=head)] if head or not calls else []
        if blocks and self._index < 0:  # an empty answer is still one (empty) text block
            events.append(self._start(TextBlock(text="")))
        events += self._stop()
        for call in calls:
            block = ToolUseBlock(id=tool_use_id(), name=call.name, input=call.input)
            events.append(self._start(ToolUseBlock(id=block.id, name=block.name, input={})))
            events.append(
                ContentBlockDeltaEvent(
                    index=self._index, delta=InputJSONDelta(partial_json=json.dumps(call.input))
                )
            )
            events += self._stop()
            blocks.append(block)
        return events, blocks, bool(calls)

    def _is_whole_call(self) -> bool:
        try:
            self._format.parse_forced(self._text)
        except (ValueError, KeyError, TypeError):
            return False
        return True

    def _finish_cut_call(self) -> tuple[list[StreamEvent], list[ContentBlock], bool]:
        """A forced call cut short: the tool_use block as far as it came, never text. Its
        name, if not yet whole, is the one forced tool it can still become (none: no block)."""
        events: list[StreamEvent] = []
        if self._tool is None:
            match = _NAME_SO_FAR.match(self._text)
            begun = _unescaped_prefix(match.group(1)) if match else ""
            fits = sorted(name for name in self._names if name.startswith(begun))
            if len(fits) != 1:
                return events, [], False
            self._tool = (tool_use_id(), fits[0])
            self._input_at = self._sent = len(self._text)
            events.append(self._start(ToolUseBlock(id=self._tool[0], name=fits[0], input={})))
        input_text = self._text[self._input_at :].rstrip()
        if len(input_text) > self._sent - self._input_at:
            rest = input_text[self._sent - self._input_at :]
            events.append(
                ContentBlockDeltaEvent(index=self._index, delta=InputJSONDelta(partial_json=rest))
            )
        events += self._stop()
        block = ToolUseBlock(id=self._tool[0], name=self._tool[1], input=partial_input(input_text))
        return events, [block], False


def partial_input(text: str) -> dict[str, Any]:
    """What an incomplete input's JSON holds so far, read as the SDK reads streamed
    input_json_delta pieces (jiter's partial mode: an unfinished value is left out)."""
    if not text:
        return {}
    try:
        value = from_json(text, allow_partial=True)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _unescaped_prefix(text: str) -> str:
    """A JSON string's beginning, decoded as far as it is whole."""
    for end in range(len(text), -1, -1):
        try:
            return str(json.loads(f'"{text[:end]}"'))
        except ValueError:
            continue
    return ""


def assembler_for(policy: ToolPolicy, prefill: str) -> Assembler:
    """The request's assembler; a prefill that ends by opening a call under `auto` has begun
    the answer's first call."""
    tag = policy.format.opening.strip()
    opened = tag if policy.mode == "auto" and prefill.endswith(tag) else ""
    names = {tool.name for tool in policy.forced} if policy.mode == "forced" else policy.names
    return Assembler(policy.mode, names, policy.parallel, opened, policy.format)
