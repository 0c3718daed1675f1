"""Migrations: a new database gets the whole schema; a first-release database (made before
migrations existed) keeps its keys and gains the ledger."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from parley.domain.reports import aggregate
from parley.store.db import MIGRATIONS, connect
from parley.store.keys import KeyStore
from parley.store.ledger import LedgerStore
from parley.store.tables import ledger
from tests.factories import ledger_entry
from tests.postgres import postgres_schema


def test_a_new_database_gets_every_table(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'new.db'}")
    assert set(sa.inspect(engine).get_table_names()) >= {
        "organizations",
        "workspaces",
        "api_keys",
        "ledger",
    }


def migrated_to(url: str, revision: str) -> sa.Engine:
    """A database at `url` brought to `revision` only, as an older release left it."""
    old = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return old


async def test_a_first_release_database_keeps_its_keys_and_gains_the_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = migrated_to(url, "0001_keys")
    with old.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))  # as before migrations
    await KeyStore(old).create(name="kept", secret="sk-ant-api03-kept-across-the-upgrade")
    engine = connect(url)
    assert "ledger" in sa.inspect(engine).get_table_names()
    assert await KeyStore(engine).authenticate("sk-ant-api03-kept-across-the-upgrade") is not None


async def test_first_party_rows_move_their_inference_geo_from_region_to_geo(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    old = migrated_to(url, "0002_ledger")
    rows = [
        ledger_entry(request_id="us", region="us"),
        ledger_entry(request_id="plain", region="global"),
        ledger_entry(request_id="vertex", surface="vertex", region="europe-west1"),
    ]
    with old.begin() as connection:
        for row in rows:
            values = {k: v for k, v in asdict(row).items() if k != "geo"}
            connection.execute(ledger.insert().values(values))  # as 0002 had the table
    when = rows[0].completed_at
    migrated = await LedgerStore(connect(url)).read("org", when, when + timedelta(seconds=1))
    assert sorted((e.request_id, e.surface, e.region, e.geo) for e in migrated) == [
        ("plain", "claude_api", "global", "global"),
        ("us", "claude_api", "global", "us"),
        ("vertex", "vertex", "europe-west1", None),
    ]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_the_rows_so_far_are_summed_per_day_by_the_upgrade(
    tmp_path: Path, database: str
) -> None:
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'daily.db'}"
            if database == "sqlite"
            else stack.enter_context(postgres_schema())
        )
        old = migrated_to(url, "0004_aws_credentials")
        when = datetime(2026, 11, 3, 23, 59, tzinfo=UTC)
        rows = [
            ledger_entry(
                request_id=str(n),
                output_tokens=n,
                cost_picodollars=10**13 * n,
                geo=geo,
                completed_at=when + timedelta(minutes=n),
            )
            for n, geo in [(0, None), (1, "us"), (2, None), (3, None)]
        ]
        with old.begin() as connection:
            connection.execute(ledger.insert(), [asdict(row) for row in rows])
        old.dispose()
        engine = connect(url)
        found = await LedgerStore(engine).totals(
            "org", when.replace(hour=0, minute=0), when + timedelta(days=1, minutes=1), "1d", []
        )
        engine.dispose()
    assert sorted(found, key=repr) == sorted(aggregate(rows, "1d", []), key=repr)
