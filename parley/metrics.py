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
