"""What a request's tools ask of generation: plain text, a call the model may begin on its own
(`auto`), or a call it must make (`any`/`tool`); which tools, and whether several calls may
come in one answer. Built once from the params, with the contract's 400s decided here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from parley.domain.ports import JsonConstraint, ToolCallConstraint
from parley.domain.schemas import check_schema
from parley.domain.tools import GENERIC, ToolFormat
from parley.errors import InvalidRequestError
from parley.wire.messages import CountTokensParams, ToolParam

ToolMode = Literal["text", "auto", "forced"]


@dataclass(frozen=True)
class ToolPolicy:
    mode: ToolMode
    tools: tuple[ToolParam, ...] = ()
    forced: tuple[ToolParam, ...] = ()  # the tools a forced call chooses among
    parallel: bool = True
    format: ToolFormat = GENERIC  # how the model writes calls

    @property
    def names(self) -> set[str]:
        return {tool.name for tool in self.tools}

    @classmethod
    def of(cls, params: CountTokensParams, tool_format: ToolFormat = GENERIC) -> ToolPolicy:
        """The request's policy, or a 400 for tools and a tool_choice that do not fit."""
        tools = tuple(params.tools or ())
        _check_tools(tools)
        choice = params.tool_choice
        names = [tool.name for tool in tools]
        if choice is not None and choice.type in ("any", "tool") and not names:
            raise InvalidRequestError(f"tool_choice: '{choice.type}' needs at least one tool")
        if choice is not None and choice.type == "tool" and choice.name not in names:
            raise InvalidRequestError(f"tool_choice.name: no tool named {choice.name!r}")
        parallel = not (choice is not None and choice.disable_parallel_tool_use)
        if not tools or (choice is not None and choice.type == "none"):
            return cls("text", tools, parallel=parallel, format=tool_format)
        if choice is None or choice.type == "auto":
            return cls("auto", tools, parallel=parallel, format=tool_format)
        if params.output_config is not None and params.output_config.format is not None:
            raise InvalidRequestError(
                "output_config.format: cannot be combined with a forced tool_choice"
            )
        forced = tuple(t for t in tools if choice.type == "any" or t.name == choice.name)
        return cls("forced", tools, forced, parallel, tool_format)

    def answer(self, params: CountTokensParams) -> JsonConstraint | None:
        """The constraint on the whole answer: a forced call, or structured output."""
        if self.mode == "forced":
            return JsonConstraint(self.format.schema(self.forced), "tools")
        output = params.output_config
        if output is not None and output.format is not None:
            return JsonConstraint(output.format.schema_, "output_config.format.schema")
        return None

    def tool_call(self) -> ToolCallConstraint | None:
        """Under `auto`, a call the model begins is finished under the tools' schemas (in a
        format whose calls have an opening to begin with)."""
        if self.mode != "auto" or not self.format.opening:
            return None
        return ToolCallConstraint(
            JsonConstraint(self.format.schema(self.tools), "tools"),
            self.format.opening,
            self.format.closing,
        )


def _check_tools(tools: tuple[ToolParam, ...]) -> None:
    names = [tool.name for tool in tools]
    if len(set(names)) != len(names):
        raise InvalidRequestError("tools: tool names must be unique")
    for index, tool in enumerate(tools):
        if tool.type not in (None, "custom"):
            raise InvalidRequestError(f"tools.{index}.type: '{tool.type}' tools are not supported")
        check_schema(tool.input_schema or {}, f"tools.{index}.input_schema")
