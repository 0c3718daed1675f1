"""Mid-conversation tool changes (`inline-tools-2026-09-15`): `tool_addition` and
`tool_removal` blocks in `role: "system"` messages change the tools offered from that point on.
The prompt keeps the request's `tools` at its head and writes each change where it happens, so
a thread's prompt only ever grows at its end; which tools may be called is the set in effect
after the last change."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from parley.errors import InvalidRequestError
from parley.wire.content import ToolAdditionBlockParam, ToolChangeParam, ToolRemovalBlockParam
from parley.wire.messages import MessageParam, ToolParam


class ToolSet:
    """The tools known so far (declared in `tools` or defined by an addition) and those
    offered now."""

    def __init__(self, tools: Sequence[ToolParam]) -> None:
        self._known = {tool.name: tool for tool in tools}
        self._offered = {tool.name: tool for tool in tools}

    @property
    def offered(self) -> list[ToolParam]:
        return list(self._offered.values())

    def add(self, block: ToolAdditionBlockParam, where: str) -> ToolParam:
        change = block.tool
        if change.type == "tool_definition":
            try:
                tool = ToolParam.model_validate(change.definition or {})
            except ValidationError:
                raise InvalidRequestError(f"{where}.tool.definition: not a valid tool") from None
            self._known[tool.name] = tool
        else:
            tool = self._known[self._name(change, where)]
        self._offered[tool.name] = tool
        return tool

    def remove(self, block: ToolRemovalBlockParam, where: str) -> str:
        name = self._name(block.tool, where)
        self._offered.pop(name, None)
        return name

    def _name(self, change: ToolChangeParam, where: str) -> str:
        if change.type != "tool_reference":
            raise InvalidRequestError(
                f"{where}.tool.type: '{change.type}' is not supported (no MCP connector here)"
            )
        if change.name is None or change.name not in self._known:
            raise InvalidRequestError(f"{where}.tool.name: no tool named {change.name!r}")
        return change.name


def tools_in_effect(
    tools: Sequence[ToolParam] | None, messages: Sequence[MessageParam]
) -> list[ToolParam] | None:
    """The request's tools after every change in `messages`; `tools` itself when none."""
    tool_set = ToolSet(tools or [])
    changed = False
    for index, message in enumerate(messages):
        if isinstance(message.content, str):
            continue
        for position, block in enumerate(message.content):
            where = f"messages.{index}.content.{position}"
            if isinstance(block, ToolAdditionBlockParam):
                tool_set.add(block, where)
                changed = True
            elif isinstance(block, ToolRemovalBlockParam):
                tool_set.remove(block, where)
                changed = True
    return tool_set.offered if changed else (list(tools) if tools is not None else None)
