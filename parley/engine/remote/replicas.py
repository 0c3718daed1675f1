"""The replicas of one remote model: which take requests, how loaded each is, and the health
checks that take a failed replica out and bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from parley.domain.catalog import Replica
from parley.metrics import Metrics


@dataclass
class ReplicaState:
    url: str
    region: str | None
    healthy: bool = True
    out_until: float = 0.0
    in_flight: int = 0

    def serves(self, regions: frozenset[str] | None) -> bool:
        return regions is None or self.region is None or self.region in regions


class ReplicaPool:
    """A replica that fails (refuses, times out, breaks off, or fails its health check) is out
    for `retry_seconds`; after that the next passing health check brings it back."""

    def __init__(
        self,
        replicas: Iterable[Replica],
        *,
        model_id: str,
        metrics: Metrics,
        retry_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replicas = [ReplicaState(r.url.rstrip("/"), r.region) for r in replicas]
        self._model_id = model_id
        self._metrics = metrics
        self._retry_seconds = retry_seconds
        self._clock = clock
        for replica in self.replicas:
            self._gauge(replica)

    def candidates(
        self, regions: frozenset[str] | None, exclude: frozenset[str] = frozenset()
    ) -> list[ReplicaState]:
        return [
            r for r in self.replicas if r.healthy and r.serves(regions) and r.url not in exclude
        ]

    def begin(self, replica: ReplicaState) -> None:
        replica.in_flight += 1
        self._metrics.replica_requests.labels(self._model_id, replica.url).inc()
        self._metrics.replica_queue_depth.labels(self._model_id, replica.url).set(replica.in_flight)

    def end(self, replica: ReplicaState) -> None:
        replica.in_flight -= 1
        self._metrics.replica_queue_depth.labels(self._model_id, replica.url).set(replica.in_flight)

    def fail(self, replica: ReplicaState) -> None:
        self._metrics.replica_errors.labels(self._model_id, replica.url).inc()
        replica.healthy = False
        replica.out_until = self._clock() + self._retry_seconds
        self._gauge(replica)

    def reused(self, replica: ReplicaState, tokens: int, whole_prefix: bool) -> None:
        self._metrics.replica_reused_tokens.labels(self._model_id, replica.url).inc(tokens)
        if whole_prefix:
            self._metrics.replica_prefix_hits.labels(self._model_id, replica.url).inc()

    async def check(self, client: httpx.AsyncClient) -> None:
        """One round of health checks; a replica that is out stays out until its time is up."""

        async def one(replica: ReplicaState) -> None:
            if not replica.healthy and self._clock() < replica.out_until:
                return
            ok = False
            with contextlib.suppress(httpx.HTTPError):
                ok = (await client.get(f"{replica.url}/health")).status_code == 200
            if ok and not replica.healthy:
                replica.healthy = True
                self._gauge(replica)
            elif not ok and replica.healthy:
                self.fail(replica)

        await asyncio.gather(*(one(replica) for replica in self.replicas))

    async def watch(self, client: httpx.AsyncClient, interval: float) -> None:
        while True:
            await self.check(client)
            await asyncio.sleep(interval)

    def _gauge(self, replica: ReplicaState) -> None:
        self._metrics.replica_healthy.labels(self._model_id, replica.url).set(
            1 if replica.healthy else 0
        )
