"""The tool policy: what a request's tools and tool_choice ask of generation."""

from __future__ import annotations

from typing import Any

import pytest

from parley.domain.ports import JsonConstraint
from parley.domain.tool_policy import ToolPolicy
from parley.domain.tools import CALL_CLOSE, CALL_OPEN, LLAMA3_JSON
from parley.errors import InvalidRequestError
from parley.wire.messages import CountTokensParams

WEATHER = {"name": "weather", "input_schema": {"type": "object"}}
TIME = {"name": "time", "input_schema": {"type": "object", "properties": {"tz": {}}}}


def params(**fields: Any) -> CountTokensParams:
    return CountTokensParams.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def test_without_tools_the_answer_is_text() -> None:
    policy = ToolPolicy.of(params())
    assert (policy.mode, policy.tools, policy.answer(params()), policy.tool_call()) == (
        "text",
        (),
        None,
        None,
    )


def test_tool_choice_none_keeps_the_tools_in_the_prompt_but_answers_in_text() -> None:
    policy = ToolPolicy.of(params(tools=[WEATHER], tool_choice={"type": "none"}))
    assert policy.mode == "text"
    assert policy.names == {"weather"}


def test_tools_without_a_choice_are_auto_and_a_begun_call_is_constrained() -> None:
    policy = ToolPolicy.of(params(tools=[WEATHER]))
    call = policy.tool_call()
    assert policy.mode == "auto"
    assert call is not None
    assert (call.opening, call.closing, call.arguments.field) == (CALL_OPEN, CALL_CLOSE, "tools")


def test_any_forces_a_call_of_one_of_the_tools() -> None:
    request = params(tools=[WEATHER, TIME], tool_choice={"type": "any"})
    policy = ToolPolicy.of(request)
    answer = policy.answer(request)
    assert policy.mode == "forced"
    assert [t.name for t in policy.forced] == ["weather", "time"]
    assert answer is not None and "oneOf" in answer.schema
    assert policy.tool_call() is None


def test_tool_forces_the_named_tool_only() -> None:
    request = params(tools=[WEATHER, TIME], tool_choice={"type": "tool", "name": "time"})
    answer = ToolPolicy.of(request).answer(request)
    assert answer == JsonConstraint(
        {
            "type": "object",
            "properties": {"name": {"const": "time"}, "input": TIME["input_schema"]},
            "required": ["name", "input"],
            "additionalProperties": False,
        },
        "tools",
    )


def test_structured_output_constrains_the_answer_when_no_call_is_forced() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    request = params(output_config={"format": {"type": "json_schema", "schema": schema}})
    answer = ToolPolicy.of(request).answer(request)
    assert answer == JsonConstraint(schema, "output_config.format.schema")


def test_disable_parallel_tool_use_allows_one_call() -> None:
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    assert ToolPolicy.of(params(tools=[WEATHER], tool_choice=choice)).parallel is False


def test_a_forced_call_with_structured_output_is_refused() -> None:
    request = params(
        tools=[WEATHER],
        tool_choice={"type": "any"},
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    with pytest.raises(InvalidRequestError, match="cannot be combined with a forced tool_choice"):
        ToolPolicy.of(request)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tool_choice": {"type": "any"}}, "'any' needs at least one tool"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "nope"}},
            "no tool named 'nope'",
        ),
        ({"tools": [WEATHER, WEATHER]}, "tool names must be unique"),
        (
            {"tools": [{**WEATHER, "type": "web_search_20250305"}]},
            "'web_search_20250305' tools are not supported",
        ),
    ],
)
def test_tools_and_choices_that_do_not_fit_are_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        ToolPolicy.of(params(**fields))


def test_a_format_whose_calls_have_no_opening_constrains_no_begun_call() -> None:
    policy = ToolPolicy.of(params(tools=[WEATHER]), LLAMA3_JSON)
    assert policy.mode == "auto" and policy.tool_call() is None
