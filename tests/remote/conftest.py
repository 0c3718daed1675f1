"""The API tests' fixtures, with the model served by two real llama-server replicas behind
Parley's remote engine instead of in-process: the same tests, run through
tests/remote/test_api_parity.py, hold for both engines. Building llama-server the first time
takes about ten minutes on two cores (tests/llama_server_build.py); it is reused after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import httpx
import llama_cpp
import pytest
from fastapi import FastAPI

from parley.app import create_app
from parley.settings import ModelSource, RemoteSettings, Settings
from tests.helpers import API_KEY, HOSTED_ALIAS, MODEL, FakeClock, create_keys, free_port, running
from tests.llama_servers import LlamaServer, llama_servers, packaged_gguf


def remote_model(urls: list[str], **fields: object) -> ModelSource:
    """The packaged model's catalog entry, served by llama-server replicas at `urls`."""
    return ModelSource.model_validate(
        {
            "id": MODEL,
            "aliases": ["smollm2-135m", "smollm2"],
            "backend": "llama-server",
            "urls": urls,
            "gguf": packaged_gguf(),
            "created_at": "2025-02-07T00:00:00Z",
            "context_window": 8192,
            "max_output": 8192,
            "min_cache_tokens": 512,
            **fields,
        }
    )


def remote_settings(data_dir: Path, urls: list[str], **remote: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        port=free_port(),
        default_model=False,
        models=[remote_model(urls)],
        aliases={HOSTED_ALIAS: MODEL},
        remote=RemoteSettings.model_validate(
            {"health_interval_seconds": 0.2, "retry_seconds": 0.5, **remote}
        ),
    )


@pytest.fixture(scope="session")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LlamaServer]]:
    with llama_servers(2, tmp_path_factory.mktemp("llama-server-logs")) as servers:
        yield servers


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, replicas: list[LlamaServer]) -> Settings:
    return remote_settings(
        tmp_path_factory.mktemp("parley-remote"), [replica.url for replica in replicas]
    )


@pytest.fixture(scope="session")
def tokens() -> Callable[[str], int]:
    vocab = llama_cpp.Llama(str(packaged_gguf()), vocab_only=True, verbose=False)
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
    with httpx.Client(
        base_url=base_url,
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        timeout=60,
    ) as raw:
        yield raw
