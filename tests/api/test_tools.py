"""Tool use with the packaged model: forced calls are decoded under a grammar built from the
tools' schemas, so their input always validates; a full round trip through the SDK; streamed
input_json_delta pieces that concatenate to the final input; tools in the prompt cache."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from tests.factories import object_schemas
from tests.helpers import MODEL

WEATHER = {
    "name": "get_weather",
    "description": "The current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 30},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
}
TIME = {
    "name": "get_time",
    "description": "The current time in a time zone.",
    "input_schema": {
        "type": "object",
        "properties": {"zone": {"type": "string", "maxLength": 20}},
        "required": ["zone"],
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
# Greedy decoding (sampling parameters are honoured under the older version), so a streamed
# and a JSON answer to the same request are the same tokens.
GREEDY: dict[str, Any] = {
    "extra_body": {"temperature": 0},
    "extra_headers": {"anthropic-version": "2023-06-01"},
}
# A forced call that max_tokens cuts inside its input.
CUT: dict[str, Any] = {
    **GREEDY,
    "tools": [WEATHER],
    "tool_choice": {"type": "tool", "name": "get_weather"},
    "max_tokens": 16,
}


def create(client: anthropic.Anthropic, **body: Any) -> anthropic.types.Message:
    return client.messages.create(**{"model": MODEL, "max_tokens": 120, "messages": ASK, **body})


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=object_schemas())
def test_a_forced_call_always_validates_against_its_schema(
    client: anthropic.Anthropic, schema: dict[str, Any]
) -> None:
    tool = {"name": "record", "description": "Records facts.", "input_schema": schema}
    message = create(client, tools=[tool], tool_choice={"type": "tool", "name": "record"})
    (block,) = message.content
    assert message.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "record" and block.id.startswith("toolu_")
    jsonschema.validate(block.input, schema)


def test_a_claude_code_style_schema_is_accepted_and_its_bounds_hold(
    client: anthropic.Anthropic,
) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "maxLength": 40, "description": "Absolute path."},
            "offset": {"type": "integer", "minimum": 0, "maximum": 9007199254740991},
            "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991},
            "timeout": {"type": "number", "minimum": 0, "maximum": 600000},
            "args": {"description": "Any JSON value, passed on verbatim."},
            "metadata": {"type": "object", "propertyNames": {"type": "string"}},
        },
        "required": ["file_path", "offset", "limit", "timeout"],
        "additionalProperties": False,
    }
    tool = {"name": "Read", "description": "Reads a file.", "input_schema": schema}
    # Sampled: greedy decoding nests the open `metadata` object until max_tokens every time,
    # and a sampled call does so about one time in eight. A call that max_tokens cuts cannot
    # be checked against the bounds, so the test samples again (four tries: one in 4,000).
    for _ in range(4):
        message = create(client, tools=[tool], tool_choice={"type": "any"}, max_tokens=600)
        (block,) = message.content
        assert block.type == "tool_use"
        if message.stop_reason == "tool_use":
            break
        assert message.stop_reason == "max_tokens", message.content
    assert message.stop_reason == "tool_use", message.content
    jsonschema.validate(block.input, schema)


def test_any_picks_one_of_the_tools_with_a_valid_input(client: anthropic.Anthropic) -> None:
    message = create(client, tools=[WEATHER, TIME], tool_choice={"type": "any"})
    (block,) = message.content
    assert block.type == "tool_use" and block.name in {"get_weather", "get_time"}
    schema = WEATHER if block.name == "get_weather" else TIME
    jsonschema.validate(block.input, schema["input_schema"])


def test_a_tool_round_trip_through_the_sdk(client: anthropic.Anthropic) -> None:
    call = create(client, tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"})
    (use,) = call.content
    assert use.type == "tool_use"
    answer = create(
        client,
        tools=[WEATHER],
        messages=[
            *ASK,
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 degrees."}
                ],
            },
        ],
        tool_choice={"type": "none"},
    )
    assert answer.stop_reason in ("end_turn", "max_tokens")
    assert [block.type for block in answer.content] == ["text"]


def test_streamed_input_json_deltas_concatenate_to_the_final_input(
    client: anthropic.Anthropic,
) -> None:
    pieces: list[str] = []
    starts: list[Any] = []
    with client.messages.stream(
        model=MODEL,
        max_tokens=120,
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        for event in stream:
            if event.type == "content_block_start":
                starts.append(event.content_block)
            elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                pieces.append(event.delta.partial_json)
        final = stream.get_final_message()
    (start,) = starts
    assert (start.type, start.input) == ("tool_use", {})
    (block,) = final.content
    assert block.type == "tool_use" and block.id == start.id
    assert json.loads("".join(pieces)) == block.input
    assert final.stop_reason == "tool_use"


@pytest.mark.parametrize("transport", ["create", "stream"])
def test_tool_choice_none_never_calls_a_tool(client: anthropic.Anthropic, transport: str) -> None:
    body: dict[str, Any] = {"tools": [WEATHER], "tool_choice": {"type": "none"}}
    if transport == "create":
        message = create(client, **body)
    else:
        with client.messages.stream(model=MODEL, max_tokens=120, messages=ASK, **body) as s:  # type: ignore[arg-type]
            message = s.get_final_message()
    assert all(block.type == "text" for block in message.content)
    assert message.stop_reason != "tool_use"


def test_auto_answers_with_contract_valid_blocks(client: anthropic.Anthropic) -> None:
    message = create(client, tools=[WEATHER])
    for block in message.content:
        assert block.type in ("text", "tool_use")
        if block.type == "tool_use":
            assert block.name == "get_weather" and isinstance(block.input, dict)
    assert (message.stop_reason == "tool_use") == any(b.type == "tool_use" for b in message.content)


def test_a_breakpoint_on_the_last_tool_caches_the_tools_and_a_change_invalidates_them(
    client: anthropic.Anthropic,
) -> None:
    long_description = " ".join(
        f"Rule {i}: cities have weather, {i} times over." for i in range(60)
    )
    tools = [
        {**TIME, "description": long_description},
        {**WEATHER, "cache_control": {"type": "ephemeral"}},
    ]
    first = create(client, tools=tools, max_tokens=1)
    second = create(client, tools=tools, max_tokens=1)
    changed = create(
        client, tools=[tools[0], {**tools[1], "description": "Changed."}], max_tokens=1
    )
    written = first.usage.cache_creation_input_tokens
    assert written > 512 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == written
    assert changed.usage.cache_read_input_tokens == 0


def test_diagnostics_report_a_tools_change(client: anthropic.Anthropic) -> None:
    first = create(client, tools=[WEATHER], max_tokens=1)
    second = create(
        client,
        tools=[TIME],
        max_tokens=1,
        diagnostics={"previous_message_id": first.id},
    )
    assert second.diagnostics is not None and second.diagnostics.cache_miss_reason is not None
    assert second.diagnostics.cache_miss_reason.type == "tools_changed"


def test_a_forced_tool_call_with_structured_output_is_a_bad_request(
    client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        create(
            client,
            tools=[WEATHER],
            tool_choice={"type": "any"},
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        )
    assert "cannot be combined with a forced tool_choice" in str(raised.value)


@pytest.mark.parametrize("transport", ["create", "stream"])
def test_under_auto_a_call_once_started_is_finished_under_the_grammar(
    client: anthropic.Anthropic, transport: str
) -> None:
    """The prefill starts the call; the model must finish it as a valid call."""
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 120,
        "tools": [WEATHER, TIME],
        "messages": [*ASK, {"role": "assistant", "content": "<tool_call>"}],
    }
    if transport == "create":
        message = client.messages.create(**body)
    else:
        with client.messages.stream(**body) as stream:
            message = stream.get_final_message()
    (block,) = message.content
    assert message.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name in {"get_weather", "get_time"}
    schema = WEATHER if block.name == "get_weather" else TIME
    jsonschema.validate(block.input, schema["input_schema"])


def test_a_forced_call_cut_by_max_tokens_is_an_incomplete_tool_use_block(
    client: anthropic.Anthropic,
) -> None:
    message = create(client, **CUT)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 16
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.id.startswith("toolu_") and isinstance(block.input, dict)


def test_a_cut_forced_call_streams_json_pieces_and_ends_as_the_json_answer_does(
    client: anthropic.Anthropic,
) -> None:
    deltas: list[Any] = []
    body = {key: value for key, value in CUT.items() if key != "max_tokens"}
    with client.messages.stream(model=MODEL, max_tokens=16, messages=ASK, **body) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                deltas.append(event.delta)
        streamed = stream.get_final_message()
    answered = create(client, **CUT)
    assert {delta.type for delta in deltas} == {"input_json_delta"}
    assert streamed.stop_reason == answered.stop_reason == "max_tokens"
    assert [(b.type, b.name, b.input) for b in streamed.content] == [  # type: ignore[union-attr]
        (b.type, b.name, b.input)
        for b in answered.content  # type: ignore[union-attr]
    ]
