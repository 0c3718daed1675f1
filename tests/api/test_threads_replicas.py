"""With `thread_store_url`, thread replies live in Redis, sealed with the server key: a thread
created on one replica is continued on another."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from parley.domain.sealing import new_key
from parley.settings import Settings
from tests.fakes import FakeEngine
from tests.helpers import MODEL, create_keys, fake_app, serve

REDIS_URL = "redis://127.0.0.1:6379/0"
QUESTION = {"role": "user", "content": "Which valve is open?"}


@asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for raw in serve(fake_app(settings, FakeEngine())):
        yield raw


@pytest.fixture()
async def replicas(tmp_path: Path) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two apps on one database, one Redis and one server key, each with its own engine."""
    key = base64.b64encode(new_key()).decode()
    settings = Settings(data_dir=tmp_path, thread_store_url=REDIS_URL, server_key=key)
    create_keys(settings)
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(replica(settings)) for _ in range(2)]


async def test_a_thread_created_on_one_replica_continues_on_another(
    replicas: list[httpx.AsyncClient],
) -> None:
    first, second = replicas
    body = {"model": MODEL, "max_tokens": 8, "messages": [QUESTION]}
    created = await first.post("/v1/messages", json=body | {"thread": {"type": "create"}})
    follow_up = {"role": "user", "content": "And the other one?"}
    previous = {"type": "continue", "previous_message_id": created.json()["id"]}
    continued = await second.post(
        "/v1/messages", json=body | {"messages": [follow_up], "thread": previous}
    )
    assert continued.status_code == 200
    again = await first.post(
        "/v1/messages", json=body | {"messages": [follow_up], "thread": previous}
    )
    assert again.json()["error"]["details"]["error_code"] == "thread_already_continued"
