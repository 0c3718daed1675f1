"""Redis (the limiter) or PostgreSQL (the database) going away and coming back while a real
`parley serve` is serving: each request meanwhile is a 500 `api_error` that says what is
missing, logged with its request id and traceback, and the server recovers on its own."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from parley.settings import Settings
from tests.helpers import API_KEY, MODEL, create_keys, free_port
from tests.postgres import postgres_schema
from tests.process import RedisProcess, ServerProcess, TcpProxy, server_process

pytestmark = pytest.mark.slow
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
QUESTION = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
RECOVERY_SECONDS = 5.0


def ask(server: ServerProcess) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/messages", json=QUESTION, headers=HEADERS, timeout=30)


def recovers(server: ServerProcess) -> float:
    """Seconds until a request is answered with a 200 again (fails after RECOVERY_SECONDS)."""
    started = time.monotonic()
    while ask(server).status_code != 200:
        assert time.monotonic() - started < RECOVERY_SECONDS, "the server did not recover"
        time.sleep(0.1)
    return time.monotonic() - started


def error_lines(server: ServerProcess, request_id: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in server.lines() if line.startswith("{")]
    return [x for x in lines if x["type"] == "log" and x["request_id"] == request_id]


def assert_outage(
    server: ServerProcess, go: Callable[[], None], back: Callable[[], None], message: str
) -> None:
    assert ask(server).status_code == 200
    go()
    failed = ask(server)
    assert failed.status_code == 500
    assert failed.json()["error"] == {"type": "api_error", "message": message}
    assert failed.headers["x-should-retry"] == "true"
    back()
    recovers(server)
    server.stop()
    [logged] = error_lines(server, failed.headers["request-id"])
    assert logged["level"] == "ERROR"
    assert "Traceback" in str(logged["traceback"])


@pytest.fixture()
def redis() -> Iterator[RedisProcess]:
    process = RedisProcess(free_port())
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_redis_away_is_a_clear_500_and_the_server_recovers_when_it_is_back(
    tmp_path: Path, redis: RedisProcess
) -> None:
    create_keys(Settings(data_dir=tmp_path))
    env = {"PARLEY_LIMITER_URL": redis.url, "PARLEY_LOGGING__FORMAT": "json"}
    with server_process(tmp_path, free_port(), env) as server:
        assert_outage(
            server,
            redis.stop,
            redis.start,
            "Rate limits cannot be checked: the limiter's Redis is unreachable. Retry shortly.",
        )


def test_postgres_away_is_a_clear_500_and_the_server_recovers_when_it_is_back(
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(free_port(), ("127.0.0.1", 5432))
    proxy.up()
    try:
        with postgres_schema() as direct:
            url = direct.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            create_keys(Settings(data_dir=tmp_path, database_url=url))
            env = {"PARLEY_DATABASE_URL": url, "PARLEY_LOGGING__FORMAT": "json"}
            with server_process(tmp_path, free_port(), env) as server:
                assert_outage(
                    server, proxy.down, proxy.up, "The database is unavailable. Retry shortly."
                )
    finally:
        proxy.down()
