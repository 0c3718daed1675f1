"""The composition root: the only place that picks adapters and wires them into services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from parley import __version__
from parley.cachereg.memory import MemoryCacheRegistry, MemoryFingerprints
from parley.cachereg.redis import RedisCacheRegistry, RedisFingerprints
from parley.console.router import ConsoleServices, console_router
from parley.console.session import Sessions
from parley.domain.catalog import (
    DEFAULT_MODEL,
    GEMMA3_270M,
    Backend,
    Catalog,
    ContextExtension,
    HubFile,
    LocalFile,
    ModelEntry,
    RemoteBackend,
    Replica,
)
from parley.domain.ports import (
    CacheRegistry,
    Clock,
    Engine,
    Fingerprints,
    LimiterBackend,
    ThreadStore,
)
from parley.domain.pricing import ModelPrice, PriceBook, PriceOverride
from parley.domain.quotas import QuotaRule
from parley.domain.regions import Region, RegionMap
from parley.domain.sealing import Sealer
from parley.domain.tiers import PRESETS, ClassLimits, Tier
from parley.engine.llama.engine import LlamaEngine
from parley.engine.llama.locate import model_path
from parley.engine.llama.vocab import GgufVocabulary
from parley.engine.remote.engine import RemoteEngine, Timeouts
from parley.engine.remote.replicas import ReplicaPool
from parley.engine.remote.router import PrefixRouter, RoundRobinRouter, Router
from parley.engine.remote.vocab import ServerVocabulary
from parley.engine.remote.wire import LlamaServerWire, ServerWire, VllmWire
from parley.errors import NotFoundError, ParleyError
from parley.limits.memory import MemoryLimiter
from parley.limits.redis import RedisLimiter
from parley.metrics import Metrics
from parley.routes.access import AccessLog
from parley.routes.admin import admin_router
from parley.routes.batches import batches_router
from parley.routes.cache import cache_router
from parley.routes.edge import EdgeMiddleware
from parley.routes.errors import http_error_handler, parley_error_handler
from parley.routes.limits import limits_router
from parley.routes.messages import messages_router
from parley.routes.models import models_router
from parley.routes.openapi import openapi_endpoint
from parley.routes.reports import reports_router
from parley.routes.surfaces.bedrock import bedrock_router
from parley.routes.surfaces.profiles import profiles_router
from parley.routes.surfaces.vertex import vertex_router
from parley.services.admin import Admin
from parley.services.auth import AuthService
from parley.services.batch_worker import BatchWorker
from parley.services.batches import Batches
from parley.services.bedrock_auth import BedrockAuth
from parley.services.caching import PromptCache
from parley.services.limits import RateLimits
from parley.services.messages import MessagesService
from parley.services.metering import Meter
from parley.services.quotas import Quotas
from parley.services.reports import Reports
from parley.services.threads import Threads
from parley.settings import (
    ClassLimitsSource,
    EngineSettings,
    LimitsSettings,
    ModelSource,
    RemoteSettings,
    Settings,
)
from parley.store.aws_credentials import AwsCredentialStore
from parley.store.batches import BatchStore
from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.ledger import LedgerStore
from parley.store.server_key import load_server_key
from parley.store.tenancy import TenancyStore
from parley.threadstore.memory import MemoryThreadStore
from parley.threadstore.redis import RedisThreadStore

OPERATOR_DEFAULT_WINDOW = 4096


def remote_backend(source: ModelSource) -> RemoteBackend:
    if source.backend == "llama-cpp":
        raise ValueError(f"model {source.id!r}: `urls` and `gguf` need a remote `backend`")
    if not source.urls:
        raise ValueError(f"model {source.id!r}: backend {source.backend!r} needs `urls`")
    if source.path or source.hf_repo or source.hf_file:
        raise ValueError(f"model {source.id!r}: a remote model takes `gguf`, not `path`/`hf_*`")
    if source.backend == "vllm" and source.gguf is None:
        raise ValueError(f"model {source.id!r}: a vllm model needs `gguf` to tokenize with")
    replicas = tuple(
        Replica(url) if isinstance(url, str) else Replica(url.url, url.region)
        for url in source.urls
    )
    return RemoteBackend(source.backend, replicas, source.gguf)


def operator_entry(source: ModelSource) -> ModelEntry:
    if source.backend != "llama-cpp" or source.urls or source.gguf:
        backend: Backend = remote_backend(source)
    elif source.path is not None:
        backend = LocalFile(source.path)
    elif source.hf_repo and source.hf_file:
        backend = HubFile(source.hf_repo, source.hf_file)
    else:
        raise ValueError(f"model {source.id!r} needs `path`, or `hf_repo` and `hf_file`")
    window = source.context_window or OPERATOR_DEFAULT_WINDOW
    extension = source.context_extension
    return ModelEntry(
        id=source.id,
        display_name=source.display_name or source.id,
        created_at=source.created_at or datetime.now(UTC),
        context_window=window,
        max_output=source.max_output or window,
        backend=backend,
        aliases=tuple(source.aliases),
        min_cache_tokens=source.min_cache_tokens,
        rate_class=source.rate_class,
        cache_reads_count_itpm=source.cache_reads_count_itpm,
        chat_template=source.chat_template,
        context_extension=None
        if extension is None
        else ContextExtension(extension.method, extension.factor, extension.trained_window),
    )


def build_catalog(settings: Settings) -> Catalog:
    entries = [DEFAULT_MODEL] if settings.default_model else []
    entries += [GEMMA3_270M] if settings.gemma_model else []
    entries += [operator_entry(source) for source in settings.models]
    if not entries:
        raise ValueError("the catalog is empty: enable default_model or add [[models]]")
    return Catalog(entries, settings.aliases)


GPU_SETTINGS = ("n_gpu_layers", "main_gpu", "tensor_split", "flash_attn")


def engine_settings(settings: Settings, model_id: str) -> EngineSettings:
    """[engine], under a [[models]] entry's own GPU settings."""
    for source in settings.models:
        if source.id == model_id:
            own = {name: getattr(source, name) for name in GPU_SETTINGS}
            return settings.engine.model_copy(
                update={name: value for name, value in own.items() if value is not None}
            )
    return settings.engine


def load_engines(catalog: Catalog, settings: Settings, metrics: Metrics) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    for entry in catalog.entries:
        if isinstance(entry.backend, RemoteBackend):
            engines[entry.id] = remote_engine(entry, entry.backend, settings.remote, metrics)
            continue
        engines[entry.id] = LlamaEngine(
            model_path(entry.backend, settings.data_dir),
            engine_settings(settings, entry.id),
            entry=entry,
            metrics=metrics,
        )
    return engines


def remote_engine(
    entry: ModelEntry, backend: RemoteBackend, settings: RemoteSettings, metrics: Metrics
) -> RemoteEngine:
    """Runs inside the event loop: the engine starts its replicas' health checks."""
    pool = ReplicaPool(
        backend.replicas,
        model_id=entry.id,
        metrics=metrics,
        retry_seconds=settings.retry_seconds,
    )
    router: Router = (
        PrefixRouter(settings.imbalance_cap) if settings.routing == "prefix" else RoundRobinRouter()
    )
    wire: ServerWire = LlamaServerWire() if backend.kind == "llama-server" else VllmWire(entry.id)
    timeouts = Timeouts(settings.connect_timeout_seconds, settings.read_timeout_seconds)
    return RemoteEngine(
        context_window=entry.context_window,
        pool=pool,
        router=router,
        wire=wire,
        model_id=entry.id,
        chat_template=entry.chat_template,
        tokenizer=None if backend.gguf is None else GgufVocabulary(backend.gguf.expanduser()),
        server_tokenizer=lambda url: ServerVocabulary(url, settings.connect_timeout_seconds),
        timeouts=timeouts,
        health_interval=settings.health_interval_seconds,
    )


def check_replica_regions(catalog: Catalog, regions: RegionMap) -> None:
    """A replica's region must be one of `[regions]` (when the table is given)."""
    for entry in catalog.entries:
        if not isinstance(entry.backend, RemoteBackend):
            continue
        for replica in entry.backend.replicas:
            if replica.region is not None and not regions.exists(replica.region):
                raise ValueError(
                    f"model {entry.id!r}: replica {replica.url} is in region "
                    f"{replica.region!r}, which [regions] does not name"
                )


def class_limits(source: ClassLimitsSource) -> ClassLimits:
    return ClassLimits(source.rpm, source.itpm, source.otpm)


def tier_table(settings: LimitsSettings) -> list[Tier]:
    """The preset's tiers, with the config's tiers replacing or added to them by name."""
    tiers = {tier.name: tier for tier in PRESETS[settings.preset]}
    for source in settings.tiers:
        classes = {name: class_limits(limits) for name, limits in source.classes.items()}
        tiers[source.name] = Tier(
            source.name, source.credit_threshold, source.monthly_cap, classes, source.batch_queue
        )
    return list(tiers.values())


def limiter_backend(settings: Settings) -> LimiterBackend:
    if settings.limiter_url:
        return RedisLimiter(settings.limiter_url)
    return MemoryLimiter()


def thread_store(settings: Settings) -> ThreadStore:
    """Like the limiter: Redis when the deployment names one (replicas share it), else this
    process's memory."""
    if settings.thread_store_url:
        sealer = Sealer(load_server_key(settings))
        return RedisThreadStore(settings.thread_store_url, sealer)
    return MemoryThreadStore(settings.thread_store_max_replies)


def cache_backends(settings: Settings) -> tuple[CacheRegistry, Fingerprints]:
    """The prompt-cache registry and the fingerprints of `diagnostics`, in one place."""
    if settings.cache_registry_url:
        url = settings.cache_registry_url
        return RedisCacheRegistry(url), RedisFingerprints(url)
    return MemoryCacheRegistry(), MemoryFingerprints()


def price_book(settings: Settings, catalog: Catalog) -> PriceBook:
    models = {
        model: ModelPrice(
            input=price.input,
            output=price.output,
            cache_read=price.cache_read,
            long_context_threshold=price.long_context_threshold,
        )
        for model, price in settings.prices.items()
    }
    overrides = [
        PriceOverride(
            model=catalog_id(catalog, source.model, "price_overrides"),
            surface=source.surface,
            region=source.region,
            multiplier=source.multiplier,
        )
        for source in settings.price_overrides
    ]
    return PriceBook(models, overrides=overrides)


# Regions and partner quotas: the config's model names resolved through the catalog once, at
# start-up, so a typo stops the server instead of silently serving or limiting nothing.
def catalog_id(catalog: Catalog, model: str, table: str) -> str:
    if model == "*":
        return model
    try:
        return catalog.get(model).id
    except NotFoundError:
        raise ValueError(f"{table}: model {model!r} is not in the catalog") from None


def region_map(settings: Settings, catalog: Catalog) -> RegionMap:
    return RegionMap(
        Region(
            name,
            source.geo,
            None
            if source.models is None
            else frozenset(catalog_id(catalog, m, f"regions.{name}") for m in source.models),
        )
        for name, source in settings.regions.items()
    )


def quota_rules(settings: Settings, catalog: Catalog) -> list[QuotaRule]:
    return [
        QuotaRule(
            surface=source.surface,
            region=source.region,
            model=catalog_id(catalog, source.model, "quotas"),
            rpm=source.rpm,
            input_tpm=source.input_tpm,
            output_tpm=source.output_tpm,
            tpm=source.tpm,
        )
        for source in settings.quotas
    ]


class WallClock:
    def now(self) -> float:
        return time.time()


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    engine_loader: Callable[[Catalog], Mapping[str, Engine]] | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """`clock`: tests pass a fake one to expire cache entries without waiting.
    `engine_loader`: builds the engines at start-up instead of loading each entry's model, so
    tests of the service around generation can run over a fake one.
    `freeze_heap`: once started, hide what start-up allocated from the garbage collector
    (`gc.freeze`), so its full passes skip the libraries, catalog and engines: under a flood
    they halved the longest pause of the event loop (117 -> 58 ms, bench/overload.py). For a
    process that serves one app (`parley serve`); tests build many apps and do not."""
    catalog = build_catalog(settings)
    regions = region_map(settings, catalog)
    check_replica_regions(catalog, regions)
    metrics = Metrics(CollectorRegistry())
    database = connect(settings.resolved_database_url())
    keys = KeyStore(database)
    ledger = LedgerStore(database)
    tenancy = TenancyStore(database)
    auth = AuthService(keys)
    engines: dict[str, Engine] = {}
    cache_registry, fingerprints = cache_backends(settings)
    clock = clock or WallClock()
    prompt_cache = PromptCache(cache_registry, fingerprints, clock)
    tiers = tier_table(settings.limits)
    backend = limiter_backend(settings)
    limits = RateLimits(
        backend,
        tiers,
        settings.limits.default_tier or tiers[0].name,
        tenancy,
        ledger,
        clock,
        otpm=settings.limits.otpm,
        workspace_limits={
            workspace: class_limits(source)
            for workspace, source in settings.limits.workspaces.items()
        },
    )
    prices = price_book(settings, catalog)
    meter = Meter(ledger, prices, clock)
    # Partner surfaces: their own quotas in the same buckets' backend, and the regions.
    quotas = Quotas(backend, quota_rules(settings, catalog), clock)
    replies = thread_store(settings)
    messages = MessagesService(
        catalog,
        engines,
        prompt_cache,
        limits,
        meter,
        quotas=quotas,
        regions=regions,
        threads=Threads(replies, clock),
    )
    # Message Batches (issue 13): the queue in the database, a worker in this process.
    batch_queue = BatchStore(database)
    batches = Batches(batch_queue, limits, clock, expires_seconds=settings.batches.expires_seconds)
    worker = BatchWorker(
        batch_queue,
        messages,
        clock,
        concurrency=settings.batches.concurrency,
        lease_seconds=settings.batches.lease_seconds,
        poll_seconds=settings.batches.poll_seconds,
        retention_seconds=settings.batches.retention_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ledger.reconcile_spend(clock.now())
        if engine_loader is None:
            engines.update(load_engines(catalog, settings, metrics))
        else:
            engines.update(engine_loader(catalog))
        working = asyncio.ensure_future(worker.run()) if settings.batches.worker else None
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if working is not None:
                working.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await working
            for engine in engines.values():
                await engine.close()
            engines.clear()
            for held in (cache_registry, fingerprints, backend, replies):
                await held.close()
            database.dispose()

    app = FastAPI(
        title="Parley",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    access = AccessLog(
        metrics, enabled=settings.logging.access_log, prompts=settings.logging.prompts
    )
    app.add_middleware(
        EdgeMiddleware, access=access, request_timeout=settings.request_timeout_seconds
    )
    app.add_exception_handler(ParleyError, parley_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.include_router(batches_router(auth, batches, settings.batches.max_bytes))
    app.include_router(messages_router(auth, messages, settings.max_request_bytes))
    app.include_router(models_router(auth, catalog))
    app.include_router(cache_router(auth, prompt_cache))
    app.include_router(limits_router(auth, limits, catalog))
    reports = Reports(ledger)
    admin = Admin(tenancy, limits, keys)
    app.include_router(reports_router(auth, reports))
    app.include_router(admin_router(auth, admin))

    # Partner-cloud surfaces (issue 12): the Vertex AI and Bedrock shapes over the same
    # service. SigV4 secrets are sealed at rest; signatures are checked against the wall clock
    # (clients sign with theirs), whatever clock the rest of the app runs on.
    server_key = load_server_key(settings)
    aws_keys = AwsCredentialStore(database, Sealer(server_key))
    bedrock_auth = BedrockAuth(auth, aws_keys, WallClock(), settings.default_region)
    app.include_router(vertex_router(auth, messages, catalog, settings.max_request_bytes))
    app.include_router(bedrock_router(bedrock_auth, messages, catalog, settings.max_request_bytes))
    app.include_router(profiles_router(bedrock_auth, catalog))

    # The console (issue 15): pages for operators, over the same services.
    console = ConsoleServices(
        auth,
        reports,
        admin,
        limits,
        prompt_cache,
        batches,
        catalog,
        prices,
        Sessions(server_key),
        WallClock(),
    )
    app.include_router(console_router(console))
    if settings.openapi:
        app.add_route("/openapi.json", openapi_endpoint(__version__), ["GET"])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        ready = bool(engines)
        return JSONResponse({"status": "ok" if ready else "loading"}, 200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.state.engines = engines
    app.state.keys = keys
    app.state.catalog = catalog
    app.state.cache_registry = cache_registry
    app.state.ledger = ledger
    app.state.messages = messages
    app.state.batch_worker = worker
    return app


async def run_worker(settings: Settings) -> None:
    """`parley worker`: the app's engines and batch worker, without serving HTTP."""
    application = create_app(
        settings.model_copy(
            update={"batches": settings.batches.model_copy(update={"worker": True})}
        )
    )
    async with application.router.lifespan_context(application):
        await asyncio.Event().wait()
