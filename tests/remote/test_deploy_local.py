"""deploy/Procfile, run by deploy/run.py as a user would: two llama-server replicas and two
gateways sharing PostgreSQL and Redis, tokenizing with the replicas' own tokenizer. Both
gateways answer, and every request that got a 200 is in the shared ledger exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from parley.store.db import connect
from parley.store.ledger import LedgerStore
from parley.store.tenancy import TenancyStore
from tests.helpers import API_KEY, MODEL, blocking, free_port
from tests.llama_server_build import ensure_built, server_env
from tests.llama_servers import packaged_gguf
from tests.postgres import postgres_schema

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PARLEY = [sys.executable, "-m", "parley"]
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture()
def database_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture()
def deployment(tmp_path: Path, database_url: str) -> Iterator[list[str]]:
    """The Procfile's processes; yields the two gateways' URLs."""
    ports = {name: free_port() for name in ("REPLICA1", "REPLICA2", "GATEWAY1", "GATEWAY2")}
    model = {
        "id": MODEL,
        "backend": "llama-server",
        "urls": [f"http://127.0.0.1:{ports[r]}" for r in ("REPLICA1", "REPLICA2")],
        "context_window": 8192,
        "min_cache_tokens": 512,
    }
    env = {k: v for k, v in server_env().items() if not k.startswith("PARLEY_")}
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(
        LLAMA_SERVER=str(ensure_built()),
        GGUF=str(packaged_gguf()),
        PYTHON=sys.executable,
        PARLEY_DATA_DIR=str(tmp_path / "data"),
        PARLEY_DATABASE_URL=database_url,
        PARLEY_LIMITER_URL="redis://127.0.0.1:6379/13",
        PARLEY_MODELS=json.dumps([model]),
        PARLEY_REMOTE__HEALTH_INTERVAL_SECONDS="0.2",
        PARLEY_REMOTE__RETRY_SECONDS="0.5",
    )
    subprocess.run(
        [*PARLEY, "keys", "create", "--config", "deploy/parley.toml", "--key", API_KEY],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "deploy.log").open("wb")
    runner = subprocess.Popen(
        [sys.executable, "deploy/run.py", "deploy/Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield [f"http://127.0.0.1:{ports[g]}" for g in ("GATEWAY1", "GATEWAY2")]
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
        log.close()


def ask(url: str, n: int) -> httpx.Response:
    body = {
        "model": MODEL,
        "max_tokens": 4,
        "messages": [{"role": "user", "content": f"Say a word about the number {n}."}],
    }
    return httpx.post(f"{url}/v1/messages", json=body, headers=HEADERS, timeout=60)


def first_answer(url: str, wait: float = 180) -> httpx.Response:
    """Retries while the processes start (connection refused, 503 loading, 529 no replica)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            answer = ask(url, 0)
            if answer.status_code == 200:
                return answer
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the deployment did not answer"
        time.sleep(0.5)


def test_both_gateways_answer_and_every_200_is_in_the_shared_ledger(
    deployment: list[str], database_url: str
) -> None:
    answered = [first_answer(url) for url in deployment]
    answered += [ask(url, n) for n in range(1, 4) for url in deployment]
    metrics = httpx.get(f"{deployment[0]}/metrics", timeout=10).text
    assert [answer.status_code for answer in answered] == [200] * 8
    ids = [answer.headers["request-id"] for answer in answered]
    ledger = LedgerStore(connect(database_url))
    now = datetime.now(UTC)
    organization = blocking(ledger_organization(database_url))
    rows = blocking(ledger.read(organization, now - timedelta(hours=1), now + timedelta(hours=1)))
    assert sorted(row.request_id for row in rows if row.request_id in ids) == sorted(ids)
    assert "parley_replica_requests_total" in metrics


async def ledger_organization(database_url: str) -> str:
    organization = await TenancyStore(connect(database_url)).first_organization()
    assert organization is not None
    return organization
