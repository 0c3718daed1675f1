"""Migrations: a new database gets the whole schema; a first-release database (made before
migrations existed) keeps its keys and gains the ledger."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from parley.store.db import MIGRATIONS, connect
from parley.store.keys import KeyStore


def test_a_new_database_gets_every_table(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'new.db'}")
    assert set(sa.inspect(engine).get_table_names()) >= {
        "organizations",
        "workspaces",
        "api_keys",
        "ledger",
    }


async def test_a_first_release_database_keeps_its_keys_and_gains_the_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_keys")
        connection.execute(sa.text("DROP TABLE alembic_version"))  # as before migrations
    await KeyStore(old).create(name="kept", secret="sk-ant-api03-kept-across-the-upgrade")
    engine = connect(url)
    assert "ledger" in sa.inspect(engine).get_table_names()
    assert await KeyStore(engine).authenticate("sk-ant-api03-kept-across-the-upgrade") is not None
