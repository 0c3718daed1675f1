"""JSON Schema -> a GBNF grammar for llama.cpp's grammar sampler (llama-cpp-python's
converter, taught numeric bounds), so constrained output is valid JSON that matches the schema;
and a request's constraints -> the grammars its job decodes under."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llama_cpp.llama_grammar import (
    PRIMITIVE_RULES,
    RESERVED_NAMES,
    BuiltinRule,
    SchemaConverter,
)

from parley.domain.ports import GenerateRequest
from parley.engine.llama.ranges import bounded_number
from parley.errors import InvalidRequestError

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
ANY_VALUE = PRIMITIVE_RULES["value"]
# JSON strings hold no raw control characters (RFC 8259, section 7); the converter's own rules
# allow them, and a newline inside a string is invalid JSON.
STRING_CHAR = BuiltinRule(
    r'[^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ' + " ".join(["[0-9a-fA-F]"] * 4) + ")",
    [],
)
PATTERN_DOT = r'[^"\\\x00-\x1F]'


class BoundedSchemaConverter(SchemaConverter):
    """The converter, with `minimum`/`maximum` on integers and numbers enforced, an empty
    schema or one of annotations only (`{"description": ...}`) taken as any JSON value, as JSON
    Schema says (the converter makes it an object), and strings that are always valid JSON."""

    def _add_primitive(self, name: str, rule: BuiltinRule) -> str:
        return str(super()._add_primitive(name, STRING_CHAR if name == "char" else rule))

    def _add_rule(self, name: str, rule: str) -> str:
        chosen = PATTERN_DOT if name == "dot" else rule
        return str(super()._add_rule(name, chosen))  # type: ignore[no-untyped-call]

    def visit(self, schema: dict[str, Any], name: str) -> str:
        rule = name + "-" if name in RESERVED_NAMES else name or "root"
        if not schema.keys() - ANNOTATIONS:
            return str(self._add_primitive("root" if rule == "root" else "value", ANY_VALUE))
        kind = schema.get("type")
        if isinstance(kind, list) and any(key in schema for key in BOUNDS):
            # The converter would split the types and drop the bounds; keep them on each.
            return str(self.visit({"anyOf": [{**schema, "type": each} for each in kind]}, name))
        if kind in ("integer", "number") and not {"const", "enum"} & schema.keys():
            body = bounded_number(schema)
            if body is not None:
                return str(self._add_rule(rule, body))
        return str(super().visit(schema, name))  # type: ignore[no-untyped-call]


def json_grammar(schema: dict[str, Any], field: str) -> str:
    try:
        converter = BoundedSchemaConverter(  # type: ignore[no-untyped-call]
            prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
        )
        converter.visit(converter.resolve_refs(json.loads(json.dumps(schema)), "stdin"), "")
        return str(converter.format_grammar())  # type: ignore[no-untyped-call]
    except (AssertionError, KeyError, ValueError, TypeError) as exc:
        raise InvalidRequestError(f"{field}: this JSON Schema cannot be enforced: {exc}") from None


def closed_by(grammar: str, closing: str) -> str:
    """The grammar's JSON followed by a literal (a tool call's closing tag)."""
    return grammar.replace("root ::=", "call ::=", 1) + f"\nroot ::= call {json.dumps(closing)}\n"


@dataclass(frozen=True)
class CallGrammar:
    """The rest of a tool call is decoded under `grammar` once the text ends with `opening`."""

    opening: bytes
    grammar: str


@dataclass(frozen=True)
class Grammars:
    """A request's constraints, compiled: `output` for the whole output, `call` for a tool
    call the model begins on its own."""

    output: str | None = None
    call: CallGrammar | None = None


def grammars_for(request: GenerateRequest) -> Grammars:
    """Raises InvalidRequestError, naming the constraint's field, for a schema that cannot be
    enforced."""
    answer, tool_call = request.answer, request.tool_call
    output = None if answer is None else json_grammar(answer.schema, answer.field)
    if tool_call is None:
        return Grammars(output)
    if not tool_call.opening:
        raise ValueError("a tool call's opening tag cannot be empty")
    arguments = json_grammar(tool_call.arguments.schema, tool_call.arguments.field)
    call = CallGrammar(tool_call.opening.encode(), closed_by(arguments, tool_call.closing))
    return Grammars(output, call)
