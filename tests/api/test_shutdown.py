"""A server that stops lets go of what it holds: the Redis connections of the limiter, the
thread store, the cache registry and the fingerprints."""

from __future__ import annotations

import base64
from pathlib import Path

import redis

from parley.domain.sealing import new_key
from parley.settings import Settings
from tests.helpers import MODEL, create_keys, fake_app, serve

REDIS_URL = "redis://127.0.0.1:6379/0"


def connection_ids(client: redis.Redis) -> set[int]:
    return {int(entry["id"]) for entry in client.client_list()}


async def test_a_stopped_server_closes_its_redis_connections(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        limiter_url=REDIS_URL,
        thread_store_url=REDIS_URL,
        cache_registry_url=REDIS_URL,
        server_key=base64.b64encode(new_key()).decode(),
    )
    create_keys(settings)
    watcher = redis.Redis.from_url(REDIS_URL)
    before = connection_ids(watcher)
    async for raw in serve(fake_app(settings)):
        body = {
            "model": MODEL,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Hi"}],
            "thread": {"type": "create"},
        }
        assert (await raw.post("/v1/messages", json=body)).status_code == 200
        assert connection_ids(watcher) - before  # the server's own connections
    assert not connection_ids(watcher) - before
    watcher.close()
