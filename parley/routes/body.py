"""Reading a request body: size limit (413), JSON (400), and validation into a wire model."""

from __future__ import annotations

import json
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
    if not body:
        raise InvalidRequestError("request body is empty: a JSON object is required")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None


def parse(model: type[Model], body: Any) -> Model:
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
