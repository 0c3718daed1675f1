"""Fixtures: a real uvicorn serving a real model on 127.0.0.1, and the official SDK against it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx
import llama_cpp
import pytest
import uvicorn
from fastapi import FastAPI

from parley.app import create_app
from parley.domain.catalog import DEFAULT_MODEL
from parley.engine.llama.locate import model_path
from parley.settings import EngineSettings, Settings
from parley.store.db import connect
from parley.store.keys import KeyStore

API_KEY = "sk-ant-api03-parley-test-key"
OTHER_WORKSPACE_KEY = "sk-ant-api03-parley-test-key-other"
ADMIN_KEY = "sk-ant-admin01-parley-test-key"
MODEL = "smollm2-135m-instruct-20250207"
HOSTED_ALIAS = "claude-opus-5-5"

T = TypeVar("T")


def blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a store's coroutine to its end from sync test code, on a loop of its own: unlike
    `asyncio.run`, it leaves pytest-asyncio's session loop as the thread's current loop."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coroutine)


class FakeClock:
    """Wall time plus a skew that tests advance, so cache TTLs pass without waiting."""

    def __init__(self) -> None:
        self.skew = 0.0

    def now(self) -> float:
        return time.time() + self.skew

    def advance(self, seconds: float) -> None:
        self.skew += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("parley-data")
    return Settings(
        data_dir=data_dir,
        port=free_port(),
        aliases={HOSTED_ALIAS: MODEL},
        engine=EngineSettings(threads=2, kv_cells=16384, max_sequences=4, queue_limit=8),
    )


@pytest.fixture(scope="session")
def tokens(settings: Settings) -> Callable[[str], int]:
    """An oracle independent of the server: how many tokens the packaged model's own tokenizer
    makes of a piece of rendered prompt (its chat template is ChatML)."""
    vocab = llama_cpp.Llama(
        str(model_path(DEFAULT_MODEL.backend, settings.data_dir)), vocab_only=True, verbose=False
    )
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False, special=True))


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def app(settings: Settings, clock: FakeClock) -> FastAPI:
    keys = KeyStore(connect(settings.resolved_database_url()))
    blocking(keys.create(name="tests", secret=API_KEY))
    blocking(keys.create(name="other", workspace="other", secret=OTHER_WORKSPACE_KEY))
    blocking(keys.create(name="admin", admin=True, secret=ADMIN_KEY))
    return create_app(settings, clock=clock)


@contextmanager
def running(app: FastAPI, port: int) -> Iterator[str]:
    """Serves `app` with a real uvicorn on 127.0.0.1:`port` in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def base_url(app: FastAPI, settings: Settings) -> Iterator[str]:
    with running(app, settings.port) as url:
        yield url


@pytest.fixture(scope="session")
def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def async_client(base_url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def http(base_url: str) -> Iterator[httpx.Client]:
    """A raw client for what the SDK hides: exact bytes, headers, malformed bodies."""
    with httpx.Client(
        base_url=base_url,
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        timeout=60,
    ) as raw:
        yield raw
