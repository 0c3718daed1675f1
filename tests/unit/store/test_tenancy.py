"""The tenancy store on both databases: the first organization (made by the first key),
its workspaces, its tier and its credit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.tenancy import TenancyStore
from tests.postgres import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[TenancyStore, KeyStore]]:
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'parley.db'}")
        yield TenancyStore(engine), KeyStore(engine)
        engine.dispose()
        return
    with postgres_schema() as url:
        engine = connect(url)
        yield TenancyStore(engine), KeyStore(engine)
        engine.dispose()


async def test_there_is_no_organization_before_the_first_key(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, _ = stores
    assert await tenancy.first_organization() is None


async def test_every_key_belongs_to_the_first_organization(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, keys = stores
    first = (await keys.create(name="a")).principal
    admin = (await keys.create(name="ops", admin=True)).principal
    assert await tenancy.first_organization() == first.organization_id == admin.organization_id


async def test_creating_a_workspace_twice_finds_the_first_one(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, keys = stores
    organization = (await keys.create(name="a")).principal.organization_id
    made = await tenancy.create_workspace(organization, "research")
    again = await tenancy.create_workspace(organization, "research")
    assert (again.id, again.name) == (made.id, "research")
    listed = await tenancy.workspaces(organization)
    assert sorted(w.name for w in listed) == ["default", "research"]


async def test_a_key_created_in_a_workspace_is_listed_with_it(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, keys = stores
    principal = (await keys.create(name="ci", workspace="research")).principal
    (workspace,) = await tenancy.workspaces(principal.organization_id)
    (key,) = await tenancy.keys(principal.organization_id)
    assert (workspace.id, workspace.name) == (principal.workspace_id, "research")
    assert (key.id, key.workspace_id, key.status) == (principal.key_id, workspace.id, "active")


async def test_updating_a_key_of_another_organization_finds_nothing(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, keys = stores
    principal = (await keys.create(name="ci")).principal
    assert await tenancy.update_key("org-else", principal.key_id, name="x", status=None) is None
    (key,) = await tenancy.keys(principal.organization_id)
    assert key.name == "ci"


async def test_an_organization_has_no_tier_until_one_is_set(
    stores: tuple[TenancyStore, KeyStore],
) -> None:
    tenancy, keys = stores
    organization = (await keys.create(name="a")).principal.organization_id
    assert await tenancy.tier_of(organization) is None
    await tenancy.set_tier(organization, "tier_2")
    assert await tenancy.tier_of(organization) == "tier_2"


async def test_credit_purchases_add_up(stores: tuple[TenancyStore, KeyStore]) -> None:
    tenancy, keys = stores
    organization = (await keys.create(name="a")).principal.organization_id
    assert await tenancy.add_credit(organization, Decimal("5.50")) == Decimal("5.50")
    assert await tenancy.add_credit(organization, Decimal("40")) == Decimal("45.50")
