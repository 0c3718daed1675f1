"""`GET /openapi.json`: generated from the operation table, which must name every route the app
serves; each request example is valid against its own schema."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.routing import BaseRoute, Route

from parley import __version__
from parley.routes.openapi import build_openapi
from parley.routes.operations import NOT_OPERATIONS, OPERATIONS
from parley.settings import Settings
from tests.helpers import create_keys, fake_app, serve

DOCUMENT = build_openapi(__version__)


def served_routes(routes: Sequence[BaseRoute]) -> set[tuple[str, str]]:
    """(method, route template without converters) of every route served, into included
    routers (FastAPI includes them as branches that keep their router)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= served_routes(included.routes)
        elif isinstance(route, Route):
            path = re.sub(r":\w+\}", "}", route.path)
            found |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return found


def excluded(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in NOT_OPERATIONS)


def test_the_table_names_every_route_the_app_serves(tmp_path: Path) -> None:
    app = fake_app(Settings(data_dir=tmp_path))
    tabled = {(op.method, op.served_route) for op in OPERATIONS}
    assert {(m, path) for m, path in served_routes(app.routes) if not excluded(path)} == tabled


def test_each_exclusion_names_routes_the_app_serves_and_no_operation(tmp_path: Path) -> None:
    served = {path for _, path in served_routes(fake_app(Settings(data_dir=tmp_path)).routes)}
    for prefix in NOT_OPERATIONS:
        assert any(path == prefix or path.startswith(prefix + "/") for path in served)
    assert [op.name for op in OPERATIONS if excluded(op.path)] == []


async def test_the_document_is_served_without_a_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    create_keys(settings)
    async for raw in serve(fake_app(settings)):
        response = await raw.get("/openapi.json", headers={"x-api-key": ""})
        assert response.status_code == 200
        assert response.json() == DOCUMENT


async def test_an_operator_can_turn_the_document_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, openapi=False)
    create_keys(settings)
    async for raw in serve(fake_app(settings)):
        response: httpx.Response = await raw.get("/openapi.json")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"


def test_each_operation_is_in_the_document_once() -> None:
    operation_ids = [
        operation["operationId"]
        for methods in DOCUMENT["paths"].values()
        for operation in methods.values()
    ]
    assert sorted(operation_ids) == sorted(op.name for op in OPERATIONS)


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the document's components beside it, so its `$ref`s resolve."""
    return {**schema, "components": DOCUMENT["components"]}


BODIES = [op for op in OPERATIONS if op.body is not None]


@pytest.mark.parametrize("op", BODIES, ids=[op.name for op in BODIES])
def test_each_request_example_is_valid_against_its_schema(op: Any) -> None:
    content = DOCUMENT["paths"][op.path][op.method.lower()]["requestBody"]["content"]
    body = content["application/json"]
    jsonschema.validate(body["example"], resolved(body["schema"]))


@pytest.mark.parametrize("name", sorted(DOCUMENT["components"]["schemas"]))
def test_each_schema_is_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(DOCUMENT["components"]["schemas"][name])


def test_the_vertex_body_has_a_version_and_no_model() -> None:
    schema = DOCUMENT["components"]["schemas"]["VertexMessageCreateParams"]
    assert "model" not in schema["properties"]
    assert "stream" in schema["properties"]
    assert set(schema["required"]) == {"anthropic_version", "max_tokens", "messages"}
    assert schema["properties"]["anthropic_version"]["enum"] == ["vertex-2023-10-16", "2026-10-21"]
