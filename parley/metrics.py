"""Prometheus metric objects, created on a registry that the app owns (no global registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# seconds: from a refusal's milliseconds to a long generation's minutes
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        model = ["model"]
        self.queue_depth = Gauge(
            "parley_engine_queue_depth", "requests waiting for a sequence", model, registry=registry
        )
        self.running = Gauge(
            "parley_engine_running_sequences", "sequences being decoded", model, registry=registry
        )
        self.tokens = Counter(
            "parley_engine_tokens",
            "tokens computed, by phase (prefill or decode)",
            [*model, "phase"],
            registry=registry,
        )
        self.step_seconds = Counter(
            "parley_engine_step_seconds",
            "time spent in llama_decode, by the phases the step held (prefill, decode, mixed)",
            [*model, "phase"],
            registry=registry,
        )
        self.rejected = Counter(
            "parley_engine_rejected",
            "requests refused with 529: queue full",
            model,
            registry=registry,
        )
        self.interrupted_steps = Counter(
            "parley_engine_interrupted_steps",
            "steps of batch work stopped midway for an interactive request (run again later)",
            model,
            registry=registry,
        )
        self.prefix_lookups = Counter(
            "parley_prefix_cache_lookups",
            "admissions that looked up the prefix cache, by result (hit, ram_hit or miss)",
            [*model, "result"],
            registry=registry,
        )
        self.prefix_reused_tokens = Counter(
            "parley_prefix_cache_reused_tokens",
            "prompt tokens not recomputed thanks to the prefix cache",
            model,
            registry=registry,
        )
        self.prefix_evictions = Counter(
            "parley_prefix_cache_evictions", "cached prefixes evicted", model, registry=registry
        )
        self.prefix_cells = Gauge(
            "parley_prefix_cache_cells",
            "KV cells held by cached prefixes",
            model,
            registry=registry,
        )
        self.prefix_entries = Gauge(
            "parley_prefix_cache_entries", "cached prefixes", model, registry=registry
        )
        self.device_info = Gauge(
            "parley_engine_device_info",
            "1 per model: the ggml backend and devices that hold its layers, and its GPU "
            "settings as resolved",
            [*model, "backend", "devices", "n_gpu_layers", "flash_attn"],
            registry=registry,
        )
        request = ["model", "route", "status"]
        self.request_seconds = Histogram(
            "parley_request_seconds",
            "from a request's arrival to its response's end, by model, route template and status",
            request,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft_seconds = Histogram(
            "parley_time_to_first_token_seconds",
            "from a request's arrival to its first generated token, by model, route and status",
            request,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.prefix_bytes = Gauge(
            "parley_prefix_cache_bytes",
            "bytes of KV held by cached prefixes, by tier (kv cells or host ram snapshots)",
            [*model, "tier"],
            registry=registry,
        )
        replica = [*model, "replica"]
        self.replica_requests = Counter(
            "parley_replica_requests",
            "requests sent to a remote engine replica (retries included)",
            replica,
            registry=registry,
        )
        self.replica_errors = Counter(
            "parley_replica_errors",
            "requests a remote engine replica failed (refused, timed out, broke off)",
            replica,
            registry=registry,
        )
        self.replica_queue_depth = Gauge(
            "parley_replica_queue_depth",
            "requests in flight on a remote engine replica",
            replica,
            registry=registry,
        )
        self.replica_prefix_hits = Counter(
            "parley_replica_prefix_hits",
            "requests whose replica reused their whole cached prefix (as the replica reports)",
            replica,
            registry=registry,
        )
        self.replica_reused_tokens = Counter(
            "parley_replica_reused_tokens",
            "prompt tokens a remote engine replica reported reusing from its cache",
            replica,
            registry=registry,
        )
        self.replica_healthy = Gauge(
            "parley_replica_healthy",
            "1 while a remote engine replica takes requests, 0 while it is out",
            replica,
            registry=registry,
        )
