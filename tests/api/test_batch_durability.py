"""A batch survives `kill -9`: a real server is killed mid-batch and restarted, and every
request ends exactly once, the results file has one line per custom_id, and the ledger has
exactly one row per succeeded request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import pytest
import sqlalchemy as sa

from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.ledger import LedgerStore
from tests.helpers import API_KEY, MODEL, blocking, free_port
from tests.process import ServerProcess

pytestmark = pytest.mark.slow
REQUESTS = 12


BATCH_ENV = {
    "PARLEY_BATCHES__LEASE_SECONDS": "2",
    "PARLEY_BATCHES__POLL_SECONDS": "0.1",
    "PARLEY_BATCHES__CONCURRENCY": "2",
}


def finished(database: sa.Engine) -> int:
    with database.connect() as conn:
        query = "SELECT count(*) FROM batch_requests WHERE state != 'processing'"
        return int(conn.execute(sa.text(query)).scalar_one())


def test_a_kill_9_mid_batch_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'parley.db'}"
    blocking(KeyStore(connect(database_url)).create(name="t", secret=API_KEY))
    database = sa.create_engine(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = anthropic.Anthropic(
        base_url=url,
        api_key=API_KEY,
        max_retries=0,
        timeout=60,
        default_headers={"anthropic-version": "2023-06-01"},  # takes `temperature`
    )
    server = ServerProcess(tmp_path, port, BATCH_ENV, tmp_path / "server.log")
    server.start()
    try:
        created = client.messages.batches.create(
            requests=[
                {
                    "custom_id": f"n{n}",
                    "params": {
                        "model": MODEL,
                        "max_tokens": 6 + n % 5,
                        "temperature": 0,
                        "messages": [{"role": "user", "content": f"Say a word about {n}."}],
                    },
                }
                for n in range(REQUESTS)
            ]
        )
        deadline = time.monotonic() + 120
        while finished(database) < 3:  # some done, some running, some unstarted
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.05)
        server.kill()
        assert finished(database) < REQUESTS, "killed too late: nothing was left to recover"
        server.start()
        deadline = time.monotonic() + 300
        while (batch := client.messages.batches.retrieve(created.id)).processing_status != "ended":
            assert time.monotonic() < deadline, "the batch did not end after the restart"
            time.sleep(0.2)
        lines = list(client.messages.batches.results(created.id))
    finally:
        server.stop()
    assert batch.request_counts.succeeded == REQUESTS
    assert sorted(line.custom_id for line in lines) == sorted(f"n{n}" for n in range(REQUESTS))
    assert {line.result.type for line in lines} == {"succeeded"}
    principal = blocking(KeyStore(connect(database_url)).authenticate(API_KEY))
    assert principal is not None
    now = datetime.now(UTC)
    rows = blocking(
        LedgerStore(connect(database_url)).read(
            principal.organization_id, now - timedelta(days=1), now + timedelta(days=1)
        )
    )
    with database.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT id FROM batch_requests")).scalars())
    assert sorted(r.request_id for r in rows) == sorted(ids)
    answered = {line.result.message.id for line in lines if line.result.type == "succeeded"}
    assert answered == {r.message_id for r in rows}
