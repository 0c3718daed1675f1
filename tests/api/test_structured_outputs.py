"""Structured outputs: `output_config.format` constrains decoding by a grammar built from the
JSON schema, so the text always parses and validates, whatever the model would have said."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from tests.factories import object_schemas
from tests.helpers import MODEL

QUESTION = [{"role": "user", "content": "Describe a city you like."}]


def ask(client: anthropic.Anthropic, schema: dict[str, Any]) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=QUESTION,  # type: ignore[arg-type]
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=object_schemas())
def test_structured_output_always_parses_and_validates(
    client: anthropic.Anthropic, schema: dict[str, Any]
) -> None:
    message = ask(client, schema)
    assert message.stop_reason == "end_turn"
    jsonschema.validate(json.loads(message.content[0].text), schema)  # type: ignore[union-attr]


def test_streamed_structured_output_concatenates_to_valid_json(client: anthropic.Anthropic) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}, "rank": {"type": "integer"}},
        "required": ["city", "rank"],
    }
    with client.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=QUESTION,  # type: ignore[arg-type]
        output_config={"format": {"type": "json_schema", "schema": schema}},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text  # type: ignore[union-attr]
    jsonschema.validate(json.loads(text), schema)


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "properties.a.not"),
        ({"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, "uniqueItems"),
        ({"type": "object", "patternProperties": {"^x": {}}}, "patternProperties"),
        ({"type": "integer", "multipleOf": 3}, "multipleOf"),
        ({"type": "object", "propertyNames": {"pattern": "^a"}}, "propertyNames"),
    ],
)
def test_an_unsupported_schema_feature_is_a_bad_request_that_names_it(
    client: anthropic.Anthropic, schema: dict[str, Any], named: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, schema)
    assert named in str(raised.value)
