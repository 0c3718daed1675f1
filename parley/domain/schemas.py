"""Which JSON Schema features constrained decoding can guarantee, so a schema that uses any
other is refused by name instead of being silently loosened."""

from __future__ import annotations

from typing import Any

from parley.errors import InvalidRequestError

UNSUPPORTED = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "dependentRequired",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
        "multipleOf",
        "$dynamicRef",
        "$recursiveRef",
    }
)


def unsupported_features(schema: Any, where: str = "") -> list[str]:
    """Every unsupported keyword, with the path where it appears."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            path = f"{where}.{key}" if where else key
            if key in UNSUPPORTED and not (key == "propertyNames" and _any_string(value)):
                found.append(path)
            elif key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                found.append(f"{path} (external reference)")
            if key not in ("const", "enum", "default", "examples"):
                found += unsupported_features(value, path)
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            found += unsupported_features(item, f"{where}.{index}")
    return found


def check_schema(schema: dict[str, Any], field: str) -> None:
    found = unsupported_features(schema)
    if found:
        raise InvalidRequestError(
            f"{field}: these JSON Schema features are not supported: {', '.join(found)}"
        )


def _any_string(schema: Any) -> bool:
    """`propertyNames` that every JSON key meets (keys are always strings)."""
    return schema in ({}, True, {"type": "string"})
