"""What several test modules share: the test keys, fake clocks, and the ways to serve an app
(a real uvicorn in a thread, or in-process over ASGI), with the real model or a FakeEngine.
Test modules import from here, never from each other."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

from parley.app import create_app
from parley.domain.billing import BillingContext
from parley.domain.metering import LedgerEntry
from parley.domain.ports import Clock, Principal
from parley.domain.sealing import Sealer
from parley.server import server_config
from parley.services.messages import Admitted, MessagesService
from parley.settings import EngineSettings, Settings
from parley.store.aws_credentials import AwsCredentialStore, CreatedAwsKey
from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.server_key import load_server_key
from parley.wire.messages import MessageCreateParams
from tests.fakes import FakeEngine

API_KEY = "sk-ant-api03-parley-test-key"
OTHER_WORKSPACE_KEY = "sk-ant-api03-parley-test-key-other"
ADMIN_KEY = "sk-ant-admin01-parley-test-key"
MODEL = "smollm2-135m-instruct-20250207"
HOSTED_ALIAS = "claude-opus-5-5"


class FakeClock:
    """Wall time plus a skew that tests advance, so cache TTLs pass without waiting. Within
    `frozen()` it stands still but for what tests advance, so TTL arithmetic is exact however
    long the requests take."""

    def __init__(self) -> None:
        self.skew = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        return time.time() + self.skew if self._frozen_at is None else self._frozen_at

    def advance(self, seconds: float) -> None:
        self.skew += seconds
        if self._frozen_at is not None:
            self._frozen_at += seconds

    @contextmanager
    def frozen(self) -> Iterator[None]:
        self._frozen_at = self.now()
        try:
            yield
        finally:
            self._frozen_at = None  # wall time has moved on meanwhile: never backwards


class FrozenClock:
    """A fake wall clock that stands still until a test moves it: bucket refills are exact."""

    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


T = TypeVar("T")


def blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a store's coroutine to its end from sync test code, on a loop of its own in a
    thread of its own: it works whether or not the caller's thread runs an event loop, and
    leaves pytest-asyncio's session loop alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def create_keys(settings: Settings) -> dict[str, Principal]:
    """The test keys in `settings`' database: API_KEY ("tests", default workspace),
    OTHER_WORKSPACE_KEY ("other", workspace `other`) and ADMIN_KEY ("admin"), by secret."""
    keys = KeyStore(connect(settings.resolved_database_url()))
    created = [
        blocking(keys.create(name="tests", secret=API_KEY)),
        blocking(keys.create(name="other", workspace="other", secret=OTHER_WORKSPACE_KEY)),
        blocking(keys.create(name="admin", admin=True, secret=ADMIN_KEY)),
    ]
    return {key.secret: key.principal for key in created}


def create_aws_key(settings: Settings, workspace: str = "default") -> CreatedAwsKey:
    """An AWS access key pair (SigV4) for a new API key in `settings`' database."""
    store = AwsCredentialStore(
        connect(settings.resolved_database_url()), Sealer(load_server_key(settings))
    )
    return blocking(store.create(name="aws-tests", workspace=workspace))


def billed(app: FastAPI, request_id: str) -> LedgerEntry:
    """The one ledger row of a request in the test keys' organization."""
    principal = blocking(app.state.keys.authenticate(API_KEY))
    now = datetime.now(UTC)
    entries = blocking(
        app.state.ledger.read(
            principal.organization_id, now - timedelta(days=40), now + timedelta(days=40)
        )
    )
    [entry] = [e for e in entries if e.request_id == request_id]
    return entry


def fake_app(
    settings: Settings, engine: FakeEngine | None = None, clock: Clock | None = None
) -> FastAPI:
    """An app whose every catalog entry is served by `engine` (a new FakeEngine if None)."""
    served = engine or FakeEngine()
    return create_app(
        settings,
        clock=clock,
        engine_loader=lambda catalog: {entry.id: served for entry in catalog.entries},
    )


async def serve(app: FastAPI, key: str = API_KEY) -> AsyncIterator[httpx.AsyncClient]:
    """Runs `app`'s lifespan and yields a raw client to it in this process, sending `key`."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://parley",
            headers={"x-api-key": key},
            timeout=60,
        ) as raw,
    ):
        yield raw


async def in_process(data_dir: Path, **engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own with the real model, in this process, with these engine settings;
    a raw client to it."""
    settings = Settings(data_dir=data_dir, engine=EngineSettings(**engine))
    create_keys(settings)
    async for raw in serve(create_app(settings)):
        yield raw


@contextmanager
def running(app: FastAPI, port: int) -> Iterator[str]:
    """Serves `app` with a real uvicorn on 127.0.0.1:`port` in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    with _in_thread(server) as url:
        yield url


@contextmanager
def _in_thread(server: uvicorn.Server) -> Iterator[str]:
    """Runs `server` in a daemon thread until it has started; stops it on exit."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def counter(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in a /metrics text (the model label defaults to MODEL)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted({"model": MODEL, **labels}.items()))
    match = re.search(rf"^{name}{{{re.escape(wanted)}}} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} not in /metrics"
    return float(match.group(1))


class Pipeline:
    """An app's MessagesService driven directly, as a partner surface's route drives it (with
    a `BillingContext`), with the app's clock and API_KEY's principal."""

    def __init__(self, app: FastAPI, clock: FrozenClock, principal: Principal):
        self.app = app
        self.service: MessagesService = app.state.messages
        self.clock = clock
        self.principal = principal

    async def admit(self, billing: BillingContext | None, **body: Any) -> Admitted:
        """Admits a short question to MODEL (`body` adds or replaces fields)."""
        params = MessageCreateParams.model_validate(
            {
                "model": MODEL,
                "max_tokens": 2,
                "messages": [{"role": "user", "content": "Which valve?"}],
            }
            | body
        )
        return await self.service.admit(
            params,
            self.principal,
            version="2023-06-01",
            request_id=f"req_{uuid.uuid4().hex}",
            billing=billing,
        )

    async def send(self, billing: BillingContext | None, **body: Any) -> Admitted:
        """Admits and answers the request (billing it)."""
        admitted = await self.admit(billing, **body)
        await self.service.create(admitted)
        return admitted


async def service_pipeline(
    settings: Settings, engine: FakeEngine | None = None
) -> AsyncIterator[Pipeline]:
    """A fake_app of `settings` on a FrozenClock, its lifespan running, as a Pipeline."""
    principal = create_keys(settings)[API_KEY]
    clock = FrozenClock()
    app = fake_app(settings, engine, clock)
    async for _ in serve(app):
        yield Pipeline(app, clock, principal)


@contextmanager
def serving(app: FastAPI, settings: Settings) -> Iterator[str]:
    """Serves `app` as `parley serve` does (its uvicorn config and guards) on settings.port in
    a thread; yields its URL."""
    server = uvicorn.Server(server_config(app, settings, log_level="warning"))
    with _in_thread(server) as url:
        yield url
