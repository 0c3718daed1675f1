"""The Admin API's tenancy: workspaces, keys (disabled means 401 at once) and credit
purchases that advance the tier. Nothing here is about generation: a FakeEngine answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.settings import LimitsSettings, Settings
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    create_keys,
    fake_app,
    serve,
)

ADMIN = {"x-api-key": ADMIN_KEY}


@pytest.fixture()
async def raw(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, limits=LimitsSettings(preset="legacy"))
    create_keys(settings)
    async for client in serve(fake_app(settings)):
        yield client


async def test_an_admin_creates_and_lists_workspaces(raw: httpx.AsyncClient) -> None:
    created = await raw.post(
        "/v1/organizations/workspaces", json={"name": "research"}, headers=ADMIN
    )
    assert created.status_code == 200
    workspace = created.json()
    assert (workspace["type"], workspace["name"], workspace["id"][:7]) == (
        "workspace",
        "research",
        "wrkspc_",
    )
    listed = (await raw.get("/v1/organizations/workspaces", headers=ADMIN)).json()
    assert {w["name"] for w in listed["data"]} == {"default", "other", "research"}
    assert listed["has_more"] is False


async def test_a_workspace_key_may_not_administer(raw: httpx.AsyncClient) -> None:
    response = await raw.get("/v1/organizations/api_keys")
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


async def test_keys_are_listed_with_a_hint_never_the_secret(raw: httpx.AsyncClient) -> None:
    listed = (await raw.get("/v1/organizations/api_keys", headers=ADMIN)).json()
    assert {k["name"] for k in listed["data"]} == {"tests", "other", "admin"}
    assert API_KEY not in str(listed) and ADMIN_KEY not in str(listed)
    assert OTHER_WORKSPACE_KEY not in str(listed)


async def test_a_disabled_key_gets_401_at_once_and_works_again_when_enabled(
    raw: httpx.AsyncClient,
) -> None:
    body = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
    keys = (await raw.get("/v1/organizations/api_keys", headers=ADMIN)).json()["data"]
    key_id = next(k["id"] for k in keys if k["name"] == "tests")
    disabled = await raw.post(
        f"/v1/organizations/api_keys/{key_id}", json={"status": "inactive"}, headers=ADMIN
    )
    assert disabled.json()["status"] == "inactive"
    refused = await raw.post("/v1/messages", json=body)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    await raw.post(f"/v1/organizations/api_keys/{key_id}", json={"status": "active"}, headers=ADMIN)
    assert (await raw.post("/v1/messages", json=body)).status_code == 200


async def test_an_unknown_key_is_not_found(raw: httpx.AsyncClient) -> None:
    response = await raw.post(
        "/v1/organizations/api_keys/apikey_nope", json={"name": "x"}, headers=ADMIN
    )
    assert response.status_code == 404


async def test_credit_purchases_advance_the_tier(raw: httpx.AsyncClient) -> None:
    first = await raw.post(
        "/v1/organizations/credit_purchases", json={"amount": "5"}, headers=ADMIN
    )
    assert first.json() == {"credit_purchased": "5.00", "tier": "tier-1"}
    second = await raw.post(
        "/v1/organizations/credit_purchases", json={"amount": "40"}, headers=ADMIN
    )
    assert second.json() == {"credit_purchased": "45.00", "tier": "tier-2"}
    limits = (await raw.get("/v1/organizations/rate_limits", headers=ADMIN)).json()
    (group,) = limits["data"]
    assert group["tier"] == "tier-2"
    assert {"type": "requests_per_minute", "value": 1000} in [
        {"type": limit["type"], "value": limit["value"]} for limit in group["limits"]
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("Infinity", "amount: Input should be a finite number"),
        ("NaN", "amount: Input should be a finite number"),
        ("1000000000.01", "amount: Input should be less than or equal to 1000000000"),
        ("0.001", "amount: Decimal input should have no more than 2 decimal places"),
    ],
)
async def test_a_credit_purchase_the_ledger_cannot_hold_is_400(
    raw: httpx.AsyncClient, amount: str, message: str
) -> None:
    """Found by fuzzing: Infinity was stored, then the answer failed to encode (a 500)."""
    response = await raw.post(
        "/v1/organizations/credit_purchases", json={"amount": amount}, headers=ADMIN
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
