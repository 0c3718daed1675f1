"""The isolation matrix: every operation of the table (`parley.routes.operations`) called by
every kind of caller, each cell's status derived from the operation's `auth`, `owned` and
surface. A new operation joins the matrix by being a row of the table; a route missing from the
table fails `test_openapi.py`. A FakeEngine answers: generation is not what this is about."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.errors import AuthenticationError, NotFoundError, ParleyError, PermissionDeniedError
from parley.routes.operations import OPERATIONS, Operation
from parley.routes.surfaces.aws import BEDROCK_ERRORS
from parley.routes.surfaces.vertex_errors import VERTEX_ERRORS
from parley.settings import LimitsSettings, Settings, TierSource
from parley.store.db import connect
from parley.store.keys import KeyStore
from tests.helpers import ADMIN_KEY, API_KEY, OTHER_WORKSPACE_KEY, blocking, create_keys, fake_app

DISABLED_KEY = "sk-ant-api03-parley-test-key-disabled"
SPARE_KEY = "sk-ant-api03-parley-test-key-spare"
CALLERS: dict[str, str | None] = {
    "no key": None,
    "bad key": "sk-ant-api03-not-a-key-of-this-server",
    "disabled key": DISABLED_KEY,
    "other workspace's key": OTHER_WORKSPACE_KEY,
    "workspace key": API_KEY,
    "admin key": ADMIN_KEY,
}


def expected_refusal(op: Operation, caller: str) -> type[ParleyError] | None:
    """The error `caller` gets from `op` (None: it is served), from the table alone."""
    if op.auth == "public":
        return None
    if caller in ("no key", "bad key", "disabled key"):
        return AuthenticationError
    is_admin = caller == "admin key"
    if (op.auth == "admin" and not is_admin) or (op.auth == "workspace" and is_admin):
        return PermissionDeniedError
    if op.owned and caller == "other workspace's key":
        return NotFoundError
    return None


def surface_status(op: Operation, error: type[ParleyError] | None) -> int:
    if error is None:
        return 200
    if op.surface == "vertex":
        return VERTEX_ERRORS[error.error_type][0]
    if op.surface == "bedrock":
        return BEDROCK_ERRORS[error.error_type][0]
    return error.status


@dataclass
class Served:
    client: httpx.AsyncClient
    spare_key_id: str


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    data_dir: Path = tmp_path_factory.mktemp("isolation")
    settings = Settings(
        data_dir=data_dir,
        limits=LimitsSettings(tiers=[TierSource(name="open")], default_tier="open"),
    )
    create_keys(settings)
    keys = KeyStore(connect(settings.resolved_database_url()))
    disabled = blocking(keys.create(name="disabled", secret=DISABLED_KEY)).principal
    spare = blocking(keys.create(name="spare", secret=SPARE_KEY)).principal
    app = fake_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://parley", timeout=60
        ) as client,
    ):
        turned_off = await client.post(
            f"/v1/organizations/api_keys/{disabled.key_id}",
            json={"status": "inactive"},
            headers={"x-api-key": ADMIN_KEY},
        )
        assert turned_off.status_code == 200
        yield Served(client, spare.key_id)


# For each operation whose path names an object of one workspace (`owned`): how API_KEY's
# workspace gets one (a request with that key), as the path parameters that name it. An owned
# operation without an entry fails `test_each_owned_operation_can_make_its_object`.
OwnedObject = Callable[[httpx.AsyncClient], Awaitable[dict[str, str]]]
BATCH = {"requests": [{"custom_id": "only", "params": {"max_tokens": 1, "messages": []}}]}


async def a_batch(client: httpx.AsyncClient) -> dict[str, str]:
    """An in-progress batch of API_KEY's workspace (its one request errors when it runs)."""
    made = await client.post("/v1/messages/batches", json=BATCH, headers={"x-api-key": API_KEY})
    assert made.status_code == 200, made.text
    return {"batch_id": made.json()["id"]}


async def an_ended_batch(client: httpx.AsyncClient) -> dict[str, str]:
    """A batch of API_KEY's workspace canceled until it has ended (deletable, with results)."""
    made = await a_batch(client)
    headers = {"x-api-key": API_KEY}
    for _ in range(100):
        url = f"/v1/messages/batches/{made['batch_id']}"
        canceled = await client.post(url + "/cancel", headers=headers)
        if canceled.json()["processing_status"] == "ended":
            return made
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {made['batch_id']} did not end")


OWNED_OBJECTS: dict[str, OwnedObject] = {
    "getMessageBatch": a_batch,
    "cancelMessageBatch": a_batch,
    "deleteMessageBatch": an_ended_batch,
    "getMessageBatchResults": an_ended_batch,
}


def test_each_owned_operation_can_make_its_object() -> None:
    owned = {op.name for op in OPERATIONS if op.owned}
    assert owned - set(OWNED_OBJECTS) == set()


async def request_of(op: Operation, served: Served) -> dict[str, Any]:
    """The operation's example request: its path filled in, its required query, its body."""
    values = {p.name: p.example for p in op.params if p.where == "path"}
    values["key_id"] = served.spare_key_id
    if op.owned:
        values |= await OWNED_OBJECTS[op.name](served.client)
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], op.path)
    query = {p.name: p.example for p in op.params if p.where == "query" and p.required}
    body = op.body.example if op.body else None
    return {"method": op.method, "url": path, "params": query, "json": body}


CELLS = [(op, caller) for op in OPERATIONS for caller in CALLERS]


@pytest.mark.parametrize(
    ("op", "caller"), CELLS, ids=[f"{op.name}-{caller}" for op, caller in CELLS]
)
async def test_each_caller_gets_what_the_table_says(
    served: Served, op: Operation, caller: str
) -> None:
    secret = CALLERS[caller]
    headers = {"x-api-key": secret} if secret else {}
    response = await served.client.request(**await request_of(op, served), headers=headers)
    refusal = expected_refusal(op, caller)
    assert response.status_code == surface_status(op, refusal), response.text
    if refusal is not None and op.surface in ("claude_api", "operator"):
        assert response.json()["error"]["type"] == refusal.error_type
