"""Tool formats: the generic one and Hermes (Qwen's), written into the prompt and read back."""

from __future__ import annotations

from typing import Any

from parley.domain.prompt import ModelAbilities, Turn, build_conversation
from parley.domain.tools import GENERIC, HERMES, LLAMA3_JSON, Call
from parley.wire.messages import MessageParam, ToolParam

WEATHER = ToolParam.model_validate(
    {
        "name": "get_weather",
        "description": "The weather of a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
)
TIME = ToolParam.model_validate({"name": "get_time", "input_schema": {"type": "object"}})
ROUND_TRIP: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
        ],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny."}],
    },
]


def rendered(tool_format: Any) -> tuple[Turn, ...]:
    messages = [MessageParam.model_validate(m) for m in ROUND_TRIP]
    return build_conversation(None, messages, ModelAbilities(), [WEATHER, TIME], tool_format).turns


def test_hermes_writes_tools_calls_and_results_as_qwen_was_trained() -> None:
    system, user, assistant, result = rendered(HERMES)
    assert system.text == (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "get_weather", "description": "The weather '
        'of a city.", "parameters": {"type": "object", "properties": {"city": {"type": '
        '"string"}}}}}\n\n'
        '{"type": "function", "function": {"name": "get_time", "parameters": {"type": '
        '"object"}}}\n</tools>\n\nFor each function call, return a json object with function '
        "name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )
    assert user == Turn("user", "Weather in Paris?")
    assert assistant == Turn(
        "assistant",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    )
    assert result == Turn("user", "<tool_response>\nSunny.\n</tool_response>")


def test_the_generic_format_writes_input_and_tool_result_tags() -> None:
    _, _, assistant, result = rendered(GENERIC)
    assert assistant.text == (
        '<tool_call>{"name": "get_weather", "input": {"city": "Paris"}}</tool_call>'
    )
    assert result.text == '<tool_result id="toolu_1">Sunny.</tool_result>'


def test_hermes_reads_calls_with_arguments_back() -> None:
    text = 'Checking.\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call>'
    assert HERMES.split_calls(text, {"get_time"}) == (
        "Checking.",
        [Call("get_time", {"tz": "UTC"})],
    )
    assert HERMES.parse_forced('{"name": "get_time", "arguments": {}}') == Call("get_time", {})


def test_a_forced_hermes_call_is_decoded_with_its_arguments_key() -> None:
    assert HERMES.schema([TIME]) == {
        "type": "object",
        "properties": {"name": {"const": "get_time"}, "arguments": {"type": "object"}},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def test_llama3_writes_tools_after_metas_instruction_and_calls_as_bare_json() -> None:
    system, _, assistant, result = rendered(LLAMA3_JSON)
    assert system.text.startswith(
        "Given the following functions, please respond with a JSON for a function call with "
        "its proper arguments that best answers the given prompt.\n\nRespond in the format "
        '{"name": function name, "parameters": dictionary of argument name and its value}. '
        'Do not use variables.\n\n{"type": "function", "function": {"name": "get_weather", '
    )
    assert assistant.text == '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    assert result.text == "Sunny."


def test_llama3_reads_a_whole_answer_of_json_as_its_call() -> None:
    call = '{"name": "get_time", "parameters": {"tz": "UTC"}}\n'
    assert LLAMA3_JSON.split_calls(call, {"get_time"}) == ("", [Call("get_time", {"tz": "UTC"})])
    assert LLAMA3_JSON.split_calls("It is noon.", {"get_time"}) == ("It is noon.", [])
    unknown = '{"name": "launch", "parameters": {}}'
    assert LLAMA3_JSON.split_calls(unknown, {"get_time"}) == (unknown, [])
