"""Tool use in the prompt and the answer: how tools, tool calls and tool results are written
into the prompt, how calls are read back out of the answer, and the JSON schema that forced
calls are decoded under. Each chat format that models were trained to call tools in has its
ToolFormat; the others get Parley's generic one.

- generic (templates that know no tools, such as the packaged model's ChatML): the tool
  definitions as JSON lines in the system turn, with an instruction to answer
  `<tool_call>{"name": ..., "input": {...}}</tool_call>`; earlier calls are written back the
  same way, and results as `<tool_result id="...">...</tool_result>` in the user turn.
- llama3 (Llama 3.1 and later, JSON tool calling): the definitions as
  `{"type": "function", "function": {...}}` lines after Meta's instruction, a call as the whole
  answer `{"name": ..., "parameters": {...}}` (no tags: under `auto` an answer that begins
  with `{` is held back until it is known to be a call or text), results as text.
- hermes (Qwen 2/2.5/3 and other ChatML models tuned on Hermes function calling): the
  definitions inside `<tools></tools>` as `{"type": "function", "function": {...}}` lines,
  calls as `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, results as
  `<tool_response>\n...\n</tool_response>` in the user turn.
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


def tool_line(tool: ToolParam) -> str:
    definition: dict[str, Any] = {"name": tool.name}
    if tool.description:
        definition["description"] = tool.description
    definition["input_schema"] = tool.input_schema or {"type": "object"}
    return json.dumps(definition, sort_keys=False)


def result_body(block: ToolResultBlockParam, where: str) -> str:
    """A tool result's text (results hold text only)."""
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
    return body


def result_text(block: ToolResultBlockParam, where: str) -> str:
    error = ' error="true"' if block.is_error else ""
    body = result_body(block, where)
    return f'<tool_result id="{block.tool_use_id}"{error}>{body}</tool_result>'


def forced_schema(tools: Sequence[ToolParam], arguments: str = "input") -> dict[str, Any]:
    """The JSON every forced call is decoded under: one of the tools, by name, with its input
    (under the format's `arguments` key) valid under that tool's input schema."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                arguments: tool.input_schema or {"type": "object"},
            },
            "required": ["name", arguments],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    return options[0] if len(options) == 1 else {"oneOf": options}


@dataclass(frozen=True)
class Call:
    name: str
    input: dict[str, Any]


HERMES_OPEN = "<tool_call>\n"
HERMES_CLOSE = "\n</tool_call>"
HERMES_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
HERMES_TAIL = (
    "</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

LLAMA3_HEAD = (
    "Given the following functions, please respond with a JSON for a function call with its "
    "proper arguments that best answers the given prompt.\n\nRespond in the format "
    '{"name": function name, "parameters": dictionary of argument name and its value}. '
    "Do not use variables."
)


@dataclass(frozen=True)
class ToolFormat:
    """One way of writing tool use: `opening` and `closing` around a call in the answer, the
    key its input goes under (`arguments`), and how definitions, calls and results are
    written into the prompt (each tool's definition is one block of its own). A format
    without `opening` writes a call as the whole answer."""

    name: str
    opening: str
    closing: str
    arguments: str

    def definitions(self, tools: Sequence[ToolParam]) -> list[str]:
        if self.name == "hermes":
            lines = [json.dumps(_function(tool)) for tool in tools]
            lines[0] = HERMES_HEAD + "\n" + lines[0]
            lines[-1] += "\n" + HERMES_TAIL
            return lines
        if self.name == "llama3":
            lines = [json.dumps(_function(tool)) for tool in tools]
            lines[0] = LLAMA3_HEAD + "\n\n" + lines[0]
            return lines
        return [(INSTRUCTION + "\n" if i == 0 else "") + tool_line(t) for i, t in enumerate(tools)]

    def call(self, block: ToolUseBlockParam) -> str:
        body = json.dumps({"name": block.name, self.arguments: block.input})
        return f"{self.opening}{body}{self.closing}"

    def result(self, block: ToolResultBlockParam, where: str) -> str:
        if self.name == "hermes":
            return f"<tool_response>\n{result_body(block, where)}\n</tool_response>"
        if self.name == "llama3":
            return result_body(block, where)
        return result_text(block, where)

    def schema(self, tools: Sequence[ToolParam]) -> dict[str, Any]:
        return forced_schema(tools, self.arguments)

    def parse_forced(self, text: str) -> Call:
        """The answer of a forced call: grammar-constrained, so it is always this JSON."""
        data = json.loads(text)
        return Call(str(data["name"]), dict(data[self.arguments]))

    def split_calls(self, text: str, names: set[str]) -> tuple[str, list[Call]]:
        """The text before the first well-formed call of a known tool, and every such call."""
        if not self.opening:
            call = self._whole_call(text, names)
            return ("", [call]) if call else (text, [])
        pattern = (
            re.escape(self.opening.strip()) + r"\s*(\{.*?\})\s*" + re.escape(self.closing.strip())
        )
        calls: list[Call] = []
        head = text
        for match in re.finditer(pattern, text, re.DOTALL):
            try:
                data = json.loads(match.group(1))
            except json.JSONDecodeError:
                continue
            if not isinstance(data, dict) or data.get("name") not in names:
                continue
            if not isinstance(data.get(self.arguments, {}), dict):
                continue
            if not calls:
                head = text[: match.start()].rstrip()
            calls.append(Call(str(data["name"]), dict(data.get(self.arguments, {}))))
        return head, calls

    def _whole_call(self, text: str, names: set[str]) -> Call | None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("name") not in names:
            return None
        arguments = data.get(self.arguments, {})
        return Call(str(data["name"]), arguments) if isinstance(arguments, dict) else None


def _function(tool: ToolParam) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.input_schema or {"type": "object"}
    return {"type": "function", "function": function}


GENERIC = ToolFormat("generic", CALL_OPEN, CALL_CLOSE, "input")
HERMES = ToolFormat("hermes", HERMES_OPEN, HERMES_CLOSE, "arguments")
LLAMA3_JSON = ToolFormat("llama3", "", "", "parameters")
# The tool format of each known chat format that has one (engine/llama/templates.py names).
NATIVE: dict[str, ToolFormat] = {"qwen": HERMES, "llama3": LLAMA3_JSON}
