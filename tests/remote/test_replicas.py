"""Replicas that fail: real llama-server processes killed under a real gateway. A request
that got nothing yet is retried on another replica; one already streaming ends with an
`error` event and is billed for what was generated; with no replica left the answer is a 529
at once; a replica that comes back takes requests again; every 200 is in the ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from parley.app import create_app
from parley.engine.remote.engine import RemoteEngine
from tests.helpers import API_KEY, MODEL, billed, counter, create_keys, running
from tests.llama_servers import LlamaServer, llama_servers
from tests.remote.conftest import remote_settings

pytestmark = pytest.mark.slow

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
LONG = [{"role": "user", "content": "Count from 1 to 500, separated by commas."}]


@contextmanager
def gateway(data_dir: Path, servers: list[LlamaServer]) -> Iterator[tuple[FastAPI, httpx.Client]]:
    settings = remote_settings(data_dir, [server.url for server in servers])
    create_keys(settings)
    app = create_app(settings)
    with (
        running(app, settings.port) as url,
        httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http,
    ):
        yield app, http


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[list[LlamaServer]]:
    with llama_servers(2, tmp_path / "logs") as started:
        yield started


def ask(http: httpx.Client, n: int, **fields: object) -> httpx.Response:
    body = {
        "model": MODEL,
        "max_tokens": 4,
        "temperature": 0,
        "messages": [{"role": "user", "content": f"Say a word about the number {n}."}],
        **fields,
    }
    return http.post("/v1/messages", json=body)


def engine_of(app: FastAPI) -> RemoteEngine:
    engine = app.state.engines[MODEL]
    assert isinstance(engine, RemoteEngine)
    return engine


def test_requests_to_a_dead_replica_are_retried_on_the_live_one(
    tmp_path: Path, servers: list[LlamaServer]
) -> None:
    with gateway(tmp_path, servers) as (app, http):
        servers[0].kill()
        answers = [ask(http, n) for n in range(4)]
        metrics = http.get("/metrics").text
    assert [answer.status_code for answer in answers] == [200] * 4
    for answer in answers:
        entry = billed(app, answer.headers["request-id"])
        assert entry.output_tokens == answer.json()["usage"]["output_tokens"]
    assert counter(metrics, "parley_replica_errors_total", replica=servers[0].url) >= 1
    assert counter(metrics, "parley_replica_healthy", replica=servers[0].url) == 0


def test_a_replica_dying_mid_stream_ends_it_with_an_error_event_billed_for_what_was_generated(
    tmp_path: Path, servers: list[LlamaServer]
) -> None:
    with gateway(tmp_path, servers) as (app, http):
        body = {"model": MODEL, "max_tokens": 1000, "stream": True, "messages": LONG}
        with http.stream("POST", "/v1/messages", json=body) as response:
            lines = response.iter_lines()
            deltas = 0
            for line in lines:
                deltas += line == "event: content_block_delta"
                if deltas == 5:
                    break
            [serving] = [r for r in engine_of(app).pool.replicas if r.in_flight]
            next(s for s in servers if s.url == serving.url).kill()
            rest = list(lines)
        status, request_id = response.status_code, response.headers["request-id"]
        events = [line for line in rest if line.startswith("event: ")]
        error = json.loads(rest[rest.index("event: error") + 1].removeprefix("data: "))
        entry = billed(app, request_id)
    assert status == 200
    assert events[-1] == "event: error"
    assert "event: message_stop" not in events
    assert error["error"]["type"] == "overloaded_error"
    assert 5 <= entry.output_tokens < 1000


def test_with_every_replica_dead_the_answer_is_a_529_without_waiting(
    tmp_path: Path, servers: list[LlamaServer]
) -> None:
    with gateway(tmp_path, servers) as (_app, http):
        for server in servers:
            server.kill()
        started = time.monotonic()
        answers = [ask(http, n) for n in range(3)]
        elapsed = time.monotonic() - started
    assert [answer.status_code for answer in answers] == [529] * 3
    assert {answer.json()["error"]["type"] for answer in answers} == {"overloaded_error"}
    assert elapsed < 10


def test_a_replica_that_comes_back_takes_requests_again(
    tmp_path: Path, servers: list[LlamaServer]
) -> None:
    with gateway(tmp_path, servers) as (app, http):
        servers[0].kill()
        ask(http, 0)
        servers[0].start()
        deadline = time.monotonic() + 10
        while not all(r.healthy for r in engine_of(app).pool.replicas):
            assert time.monotonic() < deadline, "the replica was not brought back"
            time.sleep(0.1)
        answers = [ask(http, n) for n in range(4)]
        metrics = http.get("/metrics").text
    assert [answer.status_code for answer in answers] == [200] * 4
    assert counter(metrics, "parley_replica_healthy", replica=servers[0].url) == 1


def test_a_client_that_leaves_frees_the_replica(tmp_path: Path, servers: list[LlamaServer]) -> None:
    with gateway(tmp_path, servers) as (app, http):
        body = {"model": MODEL, "max_tokens": 1000, "stream": True, "messages": LONG}
        with http.stream("POST", "/v1/messages", json=body) as response:
            for line in response.iter_lines():
                if line == "event: content_block_delta":
                    break
            assert sum(r.in_flight for r in engine_of(app).pool.replicas) == 1
        deadline = time.monotonic() + 10
        while sum(r.in_flight for r in engine_of(app).pool.replicas):
            assert time.monotonic() < deadline, "the replica's request was not cancelled"
            time.sleep(0.05)
        idle = [httpx.get(f"{s.url}/slots", timeout=5).json() for s in servers]
    assert not any(slot["is_processing"] for slots in idle for slot in slots)
