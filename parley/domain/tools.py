"""Tool use for chat templates that know no tools (the packaged model's ChatML): how tools,
tool calls and tool results are written into the prompt, how calls are read back out of the
answer, and the JSON schema that forced calls are decoded under.

The format: the tool definitions as JSON lines in the system turn, with an instruction to
answer `<tool_call>{"name": ..., "input": {...}}</tool_call>`; earlier calls are written back
the same way, and results as `<tool_result id="...">...</tool_result>` in the user turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parley.errors import InvalidRequestError
from parley.wire.content import ToolResultBlockParam, ToolUseBlockParam
from parley.wire.messages import ToolParam

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
INSTRUCTION = (
    "You can call the tools below. To call one, answer with exactly "
    '<tool_call>{"name": "<tool name>", "input": {<arguments>}}</tool_call> '
    "and nothing after it. Tools:"
)
_CALL = re.compile(re.escape(CALL_OPEN) + r"\s*(\{.*?\})\s*" + re.escape(CALL_CLOSE), re.DOTALL)


def tool_line(tool: ToolParam) -> str:
    definition: dict[str, Any] = {"name": tool.name}
    if tool.description:
        definition["description"] = tool.description
    definition["input_schema"] = tool.input_schema or {"type": "object"}
    return json.dumps(definition, sort_keys=False)


def call_text(block: ToolUseBlockParam) -> str:
    return f"{CALL_OPEN}{json.dumps({'name': block.name, 'input': block.input})}{CALL_CLOSE}"


def result_text(block: ToolResultBlockParam, where: str) -> str:
    content = block.content
    if content is None:
        body = ""
    elif isinstance(content, str):
        body = content
    else:
        texts = []
        for index, part in enumerate(content):
            if part.get("type") != "text":
                raise InvalidRequestError(
                    f"{where}.content.{index}: only text is supported inside tool results"
                )
            texts.append(str(part.get("text", "")))
        body = "\n".join(texts)
    error = ' error="true"' if block.is_error else ""
    return f'<tool_result id="{block.tool_use_id}"{error}>{body}</tool_result>'


def forced_schema(tools: Sequence[ToolParam]) -> dict[str, Any]:
    """The JSON every forced call is decoded under: one of the tools, by name, with an input
    valid under that tool's input schema."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "input": tool.input_schema or {"type": "object"},
            },
            "required": ["name", "input"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    return options[0] if len(options) == 1 else {"oneOf": options}


@dataclass(frozen=True)
class Call:
    name: str
    input: dict[str, Any]


def parse_forced(text: str) -> Call:
    """The answer of a forced call: grammar-constrained, so it is always this JSON."""
    data = json.loads(text)
    return Call(str(data["name"]), dict(data["input"]))


def split_calls(text: str, names: set[str]) -> tuple[str, list[Call]]:
    """The text before the first well-formed call of a known tool, and every such call."""
    calls: list[Call] = []
    head = text
    for match in _CALL.finditer(text):
        try:
            data = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or data.get("name") not in names:
            continue
        if not isinstance(data.get("input", {}), dict):
            continue
        if not calls:
            head = text[: match.start()].rstrip()
        calls.append(Call(str(data["name"]), dict(data.get("input", {}))))
    return head, calls
