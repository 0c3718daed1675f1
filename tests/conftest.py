"""Fixtures: a real uvicorn serving a real model on 127.0.0.1, and the official SDK against it;
and an in-process app over a FakeEngine, for tests of what surrounds generation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anthropic
import httpx
import llama_cpp
import pytest
from fastapi import FastAPI

from parley.app import create_app
from parley.domain.catalog import DEFAULT_MODEL
from parley.engine.llama.locate import model_path
from parley.settings import EngineSettings, Settings
from tests.fakes import FakeEngine
from tests.helpers import (
    API_KEY,
    HOSTED_ALIAS,
    MODEL,
    FakeClock,
    create_keys,
    fake_app,
    free_port,
    running,
    serve,
)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("parley-data")
    return Settings(
        data_dir=data_dir,
        port=free_port(),
        aliases={HOSTED_ALIAS: MODEL},
        # a loaded test machine must not turn the tests' concurrent requests into 529s
        engine=EngineSettings(
            threads=2, kv_cells=16384, max_sequences=4, queue_limit=8, max_queue_wait_s=600
        ),
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
    create_keys(settings)
    return create_app(settings, clock=clock)


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


@pytest.fixture()
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture()
async def fake_client(tmp_path: Path, fake_engine: FakeEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client (sending API_KEY) to an app of its own in this process, with default
    settings and the test keys, whose every model is `fake_engine`."""
    settings = Settings(data_dir=tmp_path)
    create_keys(settings)
    async for raw in serve(fake_app(settings, fake_engine)):
        yield raw
