"""JSON Schema -> a GBNF grammar for llama.cpp's grammar sampler (llama-cpp-python's
converter), so constrained output is valid JSON that matches the schema."""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

from parley.errors import InvalidRequestError


def json_grammar(schema: dict[str, Any], field: str) -> str:
    try:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    except (AssertionError, KeyError, ValueError, TypeError) as exc:
        raise InvalidRequestError(f"{field}: this JSON Schema cannot be enforced: {exc}") from None


def closed_by(grammar: str, closing: str) -> str:
    """The grammar's JSON followed by a literal (a tool call's closing tag)."""
    return grammar.replace("root ::=", "call ::=", 1) + f"\nroot ::= call {json.dumps(closing)}\n"
