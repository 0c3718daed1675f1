"""Schemas -> grammars: what the converter is taught beyond llama-cpp-python's own rules."""

from __future__ import annotations

from typing import Any

import pytest
from llama_cpp import LlamaGrammar

from parley.domain.ports import GenerateRequest, JsonConstraint, Sampling, ToolCallConstraint
from parley.engine.llama.grammar import grammars_for, json_grammar
from parley.errors import InvalidRequestError
from tests.unit.engine.gbnf import allowed, rule

TOOL_INPUT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "offset": {"type": "integer", "minimum": 0, "maximum": 9007199254740991},
        "timeout": {"type": ["number", "null"], "minimum": 0, "maximum": 600000},
        "args": {"description": "Any JSON value."},
        "run": {"type": "string", "pattern": "^wf_[a-z0-9-]{6,}$"},
        "metadata": {"type": "object", "propertyNames": {"type": "string"}},
    },
    "required": ["offset"],
    "additionalProperties": False,
}


def test_a_tool_schema_with_bounds_and_patterns_gives_a_grammar_llama_cpp_parses() -> None:
    LlamaGrammar.from_string(json_grammar(TOOL_INPUT, "tools.0.input_schema"), verbose=False)


def test_a_json_string_never_holds_a_raw_control_character() -> None:
    char = rule(json_grammar({"type": "string"}, "schema"), "char")
    assert [allowed(char, text) for text in ("a", "é", '"', "\n", "\t", "\x1f")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert allowed(char, "\\n") and allowed(char, "\\u00e9")


def test_a_pattern_dot_never_ends_the_string_or_breaks_it() -> None:
    grammar = json_grammar({"type": "string", "pattern": "^.$"}, "schema")
    dot = rule(grammar, "dot")
    assert [allowed(dot, text) for text in ("a", '"', "\\", "\n")] == [True, False, False, False]


@pytest.mark.parametrize("schema", [{}, {"description": "anything"}, {"title": "t", "default": 1}])
def test_an_empty_or_annotation_only_schema_is_any_json_value(schema: dict[str, Any]) -> None:
    grammar = json_grammar({"type": "object", "properties": {"a": schema}}, "schema")
    assert rule(grammar, "value") == "object | array | string | number | boolean | null"
    assert rule(grammar, "a-kv") == '"\\"a\\"" space ":" space value'


def test_a_list_of_types_keeps_its_bounds() -> None:
    grammar = json_grammar({"type": ["integer", "null"], "minimum": 1, "maximum": 3}, "schema")
    integer = rule(grammar, "alternative-0")
    assert [allowed(integer, text) for text in ("0", "1", "3", "4")] == [False, True, True, False]


def test_an_empty_range_is_a_bad_request_naming_the_field() -> None:
    field = "output_config.format.schema"
    with pytest.raises(InvalidRequestError) as raised:
        json_grammar({"type": "integer", "minimum": 2, "maximum": 1}, field)
    assert raised.value.message.startswith(
        f"{field}: this JSON Schema cannot be enforced: no number"
    )


def test_a_tool_call_compiles_to_its_opening_bytes_and_json_closed_by_its_tag() -> None:
    arguments = JsonConstraint({"type": "object"}, "tools")
    call = ToolCallConstraint(arguments, "<tool_call>", "</tool_call>")
    grammars = grammars_for(GenerateRequest([1], 8, Sampling(), "t", tool_call=call))
    assert grammars.output is None and grammars.call is not None
    assert grammars.call.opening == b"<tool_call>"
    assert rule(grammars.call.grammar, "root") == 'call "</tool_call>"'
    LlamaGrammar.from_string(grammars.call.grammar, verbose=False)


def test_a_tool_call_schema_that_cannot_be_enforced_is_a_bad_request_naming_its_field() -> None:
    arguments = JsonConstraint({"type": "integer", "minimum": 2, "maximum": 1}, "tools")
    call = ToolCallConstraint(arguments, "<tool_call>", "</tool_call>")
    with pytest.raises(InvalidRequestError) as raised:
        grammars_for(GenerateRequest([1], 8, Sampling(), "t", tool_call=call))
    assert raised.value.message.startswith("tools: this JSON Schema cannot be enforced: no number")
