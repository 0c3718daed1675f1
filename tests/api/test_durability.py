"""Nothing that got a 200 is lost: kill -9 a real server mid-load, restart it, and every
request that was answered (a JSON answer, or a stream that reached `message_stop`) is in the
ledger exactly once, as answered, and the database is intact. bench/crash.py runs this 20
times in a row."""

from __future__ import annotations

import json
import sqlite3
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
from tests.process import ServerProcess

pytestmark = pytest.mark.slow


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
    server = ServerProcess(data, free_port(), {}, data / "server.log")
    server.start()
    url = server.url
    answered: list[str] = []
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(ask, url, n) for n in range(60)]
        while sum(f.done() for f in futures) < 12:  # mid-load: some answered, many in flight
            time.sleep(0.05)
        server.kill()
        for future in futures:
            status, request_id = future.result()
            if status == 200 and request_id is not None:
                answered.append(request_id)
    assert 12 <= len(answered) < 60
    server.start()
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
        server.stop()


def stream(url: str, n: int) -> tuple[str | None, tuple[int, int] | None]:
    """A streamed request: its request id, and its (input, output) tokens if `message_stop`
    arrived."""
    body = {
        "model": MODEL,
        "max_tokens": 5 + n % 7,
        "stream": True,
        "messages": [{"role": "user", "content": f"Say a word about the number {n}."}],
    }
    tokens: dict[str, int] = {}
    request_id = None
    try:
        with httpx.stream(
            "POST", f"{url}/v1/messages", json=body, headers={"x-api-key": API_KEY}, timeout=60
        ) as response:
            request_id = response.headers.get("request-id")
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event["type"] == "message_start":
                    tokens["input"] = event["message"]["usage"]["input_tokens"]
                elif event["type"] == "message_delta":
                    tokens["output"] = event["usage"]["output_tokens"]
                elif event["type"] == "message_stop":
                    return request_id, (tokens["input"], tokens["output"])
    except httpx.HTTPError:
        pass  # the server died under this stream
    return request_id, None


def message(url: str, n: int) -> tuple[str | None, tuple[int, int] | None]:
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
        return None, None
    if response.status_code != 200:
        return response.headers.get("request-id"), None
    usage = response.json()["usage"]
    return response.headers["request-id"], (usage["input_tokens"], usage["output_tokens"])


def test_every_finished_stream_and_answer_is_billed_once_after_a_kill_9(data: Path) -> None:
    server = ServerProcess(data, free_port(), {}, data / "server.log")
    server.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(stream if n % 2 else message, server.url, n) for n in range(60)]
        while sum(f.done() for f in futures) < 12:  # mid-load: some finished, many in flight
            time.sleep(0.05)
        server.kill()
        outcomes = [future.result() for future in futures]
    finished = {rid: tokens for rid, tokens in outcomes if rid is not None and tokens is not None}
    assert 12 <= len(finished) < 60
    server.start()  # the restarted server migrates and serves the same database
    assert message(server.url, 99)[1] is not None
    server.stop()
    with sqlite3.connect(data / "parley.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = {
            rid: (uncached, output)
            for rid, uncached, output in db.execute(
                "SELECT request_id, uncached_input_tokens, output_tokens FROM ledger"
            )
        }
        billed_twice = db.execute(
            "SELECT message_id FROM ledger GROUP BY message_id HAVING COUNT(*) > 1"
        ).fetchall()
    assert {rid: rows.get(rid) for rid in finished} == finished  # each billed as answered
    assert billed_twice == []
