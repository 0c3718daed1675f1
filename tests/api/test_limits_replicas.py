"""Two `parley serve` processes sharing one Redis and one PostgreSQL database admit no more
than the organization's limit together, and bill every request they admitted exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.ledger import LedgerStore
from tests.helpers import API_KEY, MODEL, blocking, free_port
from tests.postgres import postgres_schema

pytestmark = pytest.mark.slow

CONFIG = """
limiter_url = "redis://127.0.0.1:6379/0"

[limits]
default_tier = "tiny"

[[limits.tiers]]
name = "tiny"

[limits.tiers.classes.default]
rpm = 10
itpm = 1000000
otpm = 100000

[engine]
threads = 1
kv_cells = 2048
max_sequences = 4
"""


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[list[str]]:
    data = tmp_path_factory.mktemp("replicas")
    config = data / "parley.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_DATABASE_URL"] = database_url
    subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "keys",
            "create",
            "--data-dir",
            str(data),
            "--key",
            API_KEY,
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data),
                "--config",
                str(config),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 120
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the replicas did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def ask(url: str) -> tuple[int, str]:
    body = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
    response = httpx.post(
        f"{url}/v1/messages", json=body, headers={"x-api-key": API_KEY}, timeout=60
    )
    return response.status_code, response.headers["request-id"]


def test_two_replicas_together_admit_no_more_than_the_limit_and_bill_each_once(
    replicas: list[str], database_url: str
) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, [replicas[i % 2] for i in range(30)]))
    elapsed = time.monotonic() - started
    refilled = int(elapsed * 10 / 60) + 1  # what the bucket regained while the flood ran
    statuses = [status for status, _ in answers]
    admitted = sorted(request_id for status, request_id in answers if status == 200)
    assert set(statuses) == {200, 429}
    assert 10 <= len(admitted) <= 10 + refilled
    engine = connect(database_url)
    principal = blocking(KeyStore(engine).authenticate(API_KEY))
    assert principal is not None
    now = datetime.now(UTC)
    rows = blocking(
        LedgerStore(engine).read(
            principal.organization_id, now - timedelta(days=1), now + timedelta(days=1)
        )
    )
    engine.dispose()
    assert sorted(row.request_id for row in rows) == admitted
