"""The engine's view of the metrics: one model's labelled children, updated by the scheduler."""

from __future__ import annotations

from prometheus_client import Counter

from parley.engine.llama.prefix_cache import PrefixCache
from parley.engine.llama.snapshots import SnapshotStore
from parley.metrics import Metrics


class EngineStats:
    def __init__(self, metrics: Metrics, model_id: str, bytes_per_cell: int) -> None:
        self._m = metrics
        self._model = model_id
        self._bytes_per_cell = bytes_per_cell
        self.rejected: Counter = metrics.rejected.labels(model_id)
        self.prefix_evictions: Counter = metrics.prefix_evictions.labels(model_id)
        self.interrupted_steps: Counter = metrics.interrupted_steps.labels(model_id)
        for phase in ("prefill", "decode"):  # every series exists from the start, at 0
            metrics.tokens.labels(model_id, phase)
        for phase in ("prefill", "decode", "mixed"):
            metrics.step_seconds.labels(model_id, phase)
        for result in ("hit", "ram_hit", "miss"):
            metrics.prefix_lookups.labels(model_id, result)
        metrics.prefix_reused_tokens.labels(model_id)

    def step(self, decoded: int, prefilled: int, seconds: float) -> None:
        phase = "mixed" if decoded and prefilled else ("decode" if decoded else "prefill")
        self._m.tokens.labels(self._model, "decode").inc(decoded)
        self._m.tokens.labels(self._model, "prefill").inc(prefilled)
        self._m.step_seconds.labels(self._model, phase).inc(seconds)

    def prefix_lookup(self, reused: int, *, from_ram: bool) -> None:
        result = ("ram_hit" if from_ram else "hit") if reused else "miss"
        self._m.prefix_lookups.labels(self._model, result).inc()
        self._m.prefix_reused_tokens.labels(self._model).inc(reused)

    def observe(
        self, waiting: int, running: int, cache: PrefixCache, snapshots: SnapshotStore
    ) -> None:
        self._m.queue_depth.labels(self._model).set(waiting)
        self._m.running.labels(self._model).set(running)
        self._m.prefix_cells.labels(self._model).set(cache.cells)
        self._m.prefix_entries.labels(self._model).set(cache.entries)
        self._m.prefix_bytes.labels(self._model, "kv").set(cache.cells * self._bytes_per_cell)
        self._m.prefix_bytes.labels(self._model, "ram").set(snapshots.bytes)
