"""KeyStore: API keys are created or imported, checked, and never stored in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.tables import api_keys

SECRET = "sk-ant-api03-unit-test-secret-0123456789abcdef"


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    return connect(f"sqlite:///{tmp_path / 'keys.db'}")


@pytest.fixture()
def store(engine: Engine) -> KeyStore:
    return KeyStore(engine)


async def test_a_created_key_authenticates_as_its_principal(store: KeyStore) -> None:
    created = await store.create(name="ci")
    assert await store.authenticate(created.secret) == created.principal


async def test_a_generated_secret_has_the_hosted_prefix(store: KeyStore) -> None:
    assert (await store.create(name="ci")).secret.startswith("sk-ant-api03-")
    assert (await store.create(name="ops", admin=True)).secret.startswith("sk-ant-admin01-")


async def test_an_imported_secret_authenticates(store: KeyStore) -> None:
    created = await store.create(name="imported", secret=SECRET)
    assert created.secret == SECRET
    principal = await store.authenticate(SECRET)
    assert principal is not None and principal.key_id == created.principal.key_id


async def test_the_secret_is_never_stored_in_clear(store: KeyStore, engine: Engine) -> None:
    await store.create(name="imported", secret=SECRET)
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys)).all()
    stored = [str(value) for row in rows for value in row]
    assert len(rows) == 1
    assert not any(SECRET in value for value in stored)


async def test_an_unknown_secret_fails(store: KeyStore) -> None:
    await store.create(name="imported", secret=SECRET)
    assert await store.authenticate("sk-ant-api03-someone-else") is None


@pytest.mark.parametrize(
    "near_miss",
    [SECRET[:-1], SECRET + "0", SECRET[:-1] + "0", SECRET.upper(), " " + SECRET],
    ids=["prefix", "longer", "last-char", "case", "space"],
)
async def test_a_near_miss_of_a_secret_fails(store: KeyStore, near_miss: str) -> None:
    await store.create(name="imported", secret=SECRET)
    assert await store.authenticate(near_miss) is None


async def test_a_disabled_key_fails(store: KeyStore, engine: Engine) -> None:
    created = await store.create(name="imported", secret=SECRET)
    with engine.begin() as conn:
        conn.execute(
            api_keys.update()
            .where(api_keys.c.id == created.principal.key_id)
            .values(status="disabled")
        )
    assert await store.authenticate(SECRET) is None


async def test_importing_an_existing_secret_is_refused(store: KeyStore) -> None:
    await store.create(name="first", secret=SECRET)
    with pytest.raises(ValueError, match="already exists"):
        await store.create(name="second", secret=SECRET)


async def test_keys_of_one_workspace_share_it_and_the_organization(store: KeyStore) -> None:
    first = (await store.create(name="a")).principal
    second = (await store.create(name="b")).principal
    other = (await store.create(name="c", workspace="other")).principal
    assert first.workspace_id == second.workspace_id != other.workspace_id
    assert first.organization_id == second.organization_id == other.organization_id


async def test_an_admin_key_belongs_to_no_workspace(store: KeyStore) -> None:
    principal = (await store.create(name="ops", admin=True)).principal
    assert (principal.is_admin, principal.workspace_id) == (True, "")
