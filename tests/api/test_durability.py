"""Nothing that got a 200 is lost: kill -9 a real server mid-load, restart it, and every
request that was answered is in the ledger exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.ledger import LedgerStore
from tests.helpers import API_KEY, MODEL, blocking, free_port

pytestmark = pytest.mark.slow


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_ENGINE__THREADS"] = "2"
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
        time.sleep(0.2)


@pytest.fixture()
def data(tmp_path: Path) -> Iterator[Path]:
    blocking(
        KeyStore(connect(f"sqlite:///{tmp_path / 'parley.db'}")).create(name="t", secret=API_KEY)
    )
    yield tmp_path


def ask(url: str, n: int) -> tuple[int, str | None]:
    body = {
        "model": MODEL,
        "max_tokens": 5 + n % 7,
        "messages": [{"role": "user", "content": f"Say a word about the number {n}."}],
    }
    try:
        response = httpx.post(
            f"{url}/v1/messages", json=body, headers={"x-api-key": API_KEY}, timeout=60
        )
    except httpx.HTTPError:
        return 0, None  # the server died under this request
    return response.status_code, response.headers.get("request-id")


def test_every_answered_request_survives_a_kill_9_exactly_once(data: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(data, port)
    answered: list[str] = []
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(ask, url, n) for n in range(60)]
        while sum(f.done() for f in futures) < 12:  # mid-load: some answered, many in flight
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        for future in futures:
            status, request_id = future.result()
            if status == 200 and request_id is not None:
                answered.append(request_id)
    assert 12 <= len(answered) < 60
    restarted = start(data, port)
    try:
        assert ask(url, 99)[0] == 200  # the restarted server works on the same database
        engine = connect(f"sqlite:///{data / 'parley.db'}")
        principal = blocking(KeyStore(engine).authenticate(API_KEY))
        assert principal is not None
        now = datetime.now(UTC)
        entries = blocking(
            LedgerStore(engine).read(
                principal.organization_id, now - timedelta(hours=1), now + timedelta(hours=1)
            )
        )
        recorded = [e.request_id for e in entries]
        assert len(recorded) == len(set(recorded))  # once each
        assert set(answered) <= set(recorded)  # nothing answered is missing
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
