"""`GET /openapi.json`: an OpenAPI 3.1 description generated from the operation table and the
wire models' JSON schemas, so it cannot drift from what the routes parse and answer."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from parley.routes.operations import OPERATIONS, Body, Operation
from parley.wire.errors import BedrockErrorResponse, ErrorResponse, VertexErrorResponse

REF = "#/components/schemas/{model}"
ERRORS: dict[str, type[BaseModel]] = {
    "claude_api": ErrorResponse,
    "operator": ErrorResponse,
    "vertex": VertexErrorResponse,
    "bedrock": BedrockErrorResponse,
}
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
    "SigV4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature V4 (service `bedrock`) with a key of `parley keys create "
        "--aws`",
    },
}


def _models(operations: tuple[Operation, ...]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for op in operations:
        if op.body is not None:
            wanted.append((op.body.model, "validation"))
        if op.response is not None:
            wanted.append((op.response, "serialization"))
        wanted.append((ERRORS[op.surface], "serialization"))
    return list(dict.fromkeys(wanted))


def _edited(base: dict[str, Any], body: Body) -> dict[str, Any]:
    schema = copy.deepcopy(base)
    properties = schema.setdefault("properties", {})
    required = [name for name in schema.get("required", []) if name not in body.dropped]
    for name in body.dropped:
        properties.pop(name, None)
    properties.update(body.added)
    properties.update(body.optional)
    schema["required"] = [*required, *body.added]
    if body.name:
        schema["title"] = body.name
    return schema


def _parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "in": p.where,
            "required": p.where == "path" or p.required,
            "schema": p.schema,
            "example": p.example,
        }
        for p in op.params
    ]


def _security(op: Operation) -> list[dict[str, list[str]]]:
    if op.auth == "public":
        return []
    schemes: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
    if op.surface == "bedrock":
        schemes.append({"SigV4": []})
    return schemes


def _content(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    if op.response is None:
        schema: dict[str, Any] = (
            {"type": "object"} if op.media_type == "application/json" else {"type": "string"}
        )
    else:
        schema = refs[(op.response, "serialization")]
    content = {op.media_type: {"schema": schema}}
    if op.stream:
        content[op.stream] = {"schema": {"type": "string"}}
    return content


def build_openapi(version: str, operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    refs, definitions = models_json_schema(_models(operations), ref_template=REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        error = refs[(ERRORS[op.surface], "serialization")]
        operation: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.surface],
            "security": _security(op),
            "parameters": _parameters(op),
            "responses": {
                "200": {"description": "OK", "content": _content(op, refs)},
                "default": {
                    "description": "An error",
                    "content": {"application/json": {"schema": error}},
                },
            },
        }
        if op.body is not None:
            body_ref = refs[(op.body.model, "validation")]
            if op.body.dropped or op.body.added or op.body.optional:
                name = op.body.name or op.name
                base = schemas[body_ref["$ref"].rsplit("/", 1)[1]]
                schemas[name] = _edited(base, op.body)
                body_ref = {"$ref": REF.format(model=name)}
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_ref, "example": op.body.example}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Parley",
            "version": version,
            "description": "The Claude Messages API, its Admin API and the Vertex AI and "
            "Bedrock shapes, served on local models.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def openapi_endpoint(version: str) -> Callable[[Request], Awaitable[Response]]:
    """The route's handler; the document is built once, at start-up."""
    document = build_openapi(version)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return openapi
