"""A request body's validation error as the contract's 400: the deepest error, with a dotted
path that names the field (`messages.0.role: ...`). The edge and the batch worker (which
validates each batch request only when it runs) answer the same words."""

from __future__ import annotations

from pydantic import ValidationError

from parley.errors import InvalidRequestError

_UNION_LABELS = {"str", "int", "float", "bool", "dict", "list", "none"}


def from_validation_error(exc: ValidationError) -> InvalidRequestError:
    errors = exc.errors(include_url=False)
    deepest = max(errors, key=lambda e: len(e["loc"]))
    path = ".".join(str(part) for part in deepest["loc"] if _is_field(part))
    return InvalidRequestError(f"{path}: {deepest['msg']}" if path else str(deepest["msg"]))


def _is_field(part: int | str) -> bool:
    """Drops the labels pydantic adds for union members (`str`, `list[...]`, block tags)."""
    if isinstance(part, int):
        return True
    return "[" not in part and part not in _UNION_LABELS and not part.startswith("block:")
