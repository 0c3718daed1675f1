"""Structured outputs: `output_config.format` constrains decoding by a grammar built from the
JSON schema, so the text always parses and validates, whatever the model would have said."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MODEL

QUESTION = [{"role": "user", "content": "Describe a city you like."}]

leaf = st.one_of(
    st.just({"type": "integer"}),
    st.just({"type": "boolean"}),
    st.just({"type": "string", "maxLength": 12}),
    st.lists(
        st.sampled_from(["red", "green", "blue", "amber"]), min_size=1, max_size=3, unique=True
    ).map(lambda values: {"enum": values}),
    st.just({"type": "array", "items": {"type": "integer"}, "maxItems": 3}),
    st.tuples(st.integers(-50, 50), st.integers(0, 200)).map(
        lambda bounds: {"type": "integer", "minimum": bounds[0], "maximum": bounds[0] + bounds[1]}
    ),
    st.just({"type": "number", "exclusiveMinimum": 0, "maximum": 600000}),
    st.just({"type": ["integer", "null"], "exclusiveMaximum": -3}),
)


@st.composite
def object_schemas(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(
        st.lists(
            st.sampled_from(["city", "rank", "open", "tags", "colour"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    properties = {name: draw(leaf) for name in names}
    required = draw(st.lists(st.sampled_from(names), unique=True))
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


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
