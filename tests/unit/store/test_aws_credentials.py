"""AWS access keys on both databases: issued for an API key, the secret sealed at rest, and
stopped at once when the access key or its API key is disabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from parley.domain.sealing import Sealer, new_key
from parley.store.aws_credentials import AwsCredentialStore, is_access_key_id
from parley.store.db import connect
from parley.store.tables import api_keys, aws_credentials
from tests.postgres import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'parley.db'}"
        database = connect(url)
        yield database
        database.dispose()
        return
    with postgres_schema() as url:
        database = connect(url)
        yield database
        database.dispose()


@pytest.fixture()
def store(engine: Engine) -> AwsCredentialStore:
    return AwsCredentialStore(engine, Sealer(new_key()))


async def test_an_issued_access_key_finds_its_secret_and_principal(
    store: AwsCredentialStore,
) -> None:
    created = await store.create(name="ci", workspace="build")
    found = await store.secret_for(created.access_key_id)
    assert found is not None
    assert found.secret_access_key == created.secret_access_key
    assert found.principal == created.principal


async def test_an_access_key_id_looks_like_aws_ones(store: AwsCredentialStore) -> None:
    created = await store.create(name="ci")
    assert is_access_key_id(created.access_key_id)
    assert len(created.secret_access_key) == 40


async def test_the_secret_is_never_stored_in_clear(
    store: AwsCredentialStore, engine: Engine
) -> None:
    created = await store.create(name="ci")
    with engine.connect() as conn:
        rows = conn.execute(select(aws_credentials)).all()
    assert len(rows) == 1
    assert created.secret_access_key.encode() not in rows[0].secret_sealed
    assert not any(created.secret_access_key in str(value) for value in rows[0])


async def test_another_server_key_cannot_open_the_secret(engine: Engine) -> None:
    created = await AwsCredentialStore(engine, Sealer(new_key())).create(name="ci")
    with pytest.raises(ValueError, match="cannot be opened"):
        await AwsCredentialStore(engine, Sealer(new_key())).secret_for(created.access_key_id)


async def test_an_unknown_access_key_finds_nothing(store: AwsCredentialStore) -> None:
    await store.create(name="ci")
    assert await store.secret_for("AKIAUNKNOWNUNKNOWN00") is None


async def test_a_disabled_access_key_stops_at_once(store: AwsCredentialStore) -> None:
    created = await store.create(name="ci")
    assert await store.disable(created.access_key_id)
    assert await store.secret_for(created.access_key_id) is None


async def test_disabling_an_unknown_access_key_says_so(store: AwsCredentialStore) -> None:
    assert not await store.disable("AKIAUNKNOWNUNKNOWN00")


async def test_disabling_the_api_key_stops_its_access_key(
    store: AwsCredentialStore, engine: Engine
) -> None:
    created = await store.create(name="ci")
    with engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == created.principal.key_id)
            .values(status="inactive")
        )
    assert await store.secret_for(created.access_key_id) is None
