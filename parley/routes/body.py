"""Reading a request body: size limit (413), JSON (400), and validation into a wire model."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from parley.domain.invalid import from_validation_error
from parley.errors import InvalidRequestError, RequestTooLargeError

Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"Request exceeds the maximum allowed size of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLargeError(f"Request exceeds the maximum allowed size of {limit} bytes")
    return bytes(body)


async def read_json(request: Request, limit: int) -> Any:
    return decode_json(await read_body(request, limit))


def decode_json(body: bytes) -> Any:
    """Strict JSON: no NaN or Infinity (nothing downstream could echo them as JSON), no lone
    surrogates (no UTF-8 can carry them to a tokenizer), no nesting deeper than MAX_DEPTH."""
    if not body:
        raise InvalidRequestError("request body is empty: a JSON object is required")
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidRequestError("request body is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise InvalidRequestError(f"request body nests deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        raise InvalidRequestError("request body is not valid JSON: a string has a lone surrogate")
    return value


# Deeper bodies are refused before any recursive walk downstream (validation, fingerprints,
# grammars) can run out of stack; no real schema or content nests this deep.
MAX_DEPTH = 128


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return False


# A \uD800-\uDFFF escape: the only way a surrogate gets into a parsed string (raw bytes of
# one are invalid UTF-8 and fail decoding); pairs are fine, so the parsed strings decide.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def parse(model: type[Model], body: Any) -> Model:
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
