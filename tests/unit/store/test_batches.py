"""The batch queue on both databases: claims, leases, completion exactly once, ending,
expiry and retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from parley.domain.batches import BatchRecord, new_requests
from parley.store.batches import BatchStore
from parley.store.db import connect
from tests.postgres import postgres_schema

T0 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
LEASE = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BatchStore]:
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'parley.db'}")
        yield BatchStore(engine)
        engine.dispose()
        return
    with postgres_schema() as url:
        engine = connect(url)
        yield BatchStore(engine)
        engine.dispose()


def params(question: str, system: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 5}
    body["messages"] = [{"role": "user", "content": question}]
    return body if system is None else body | {"system": system}


async def add(store: BatchStore, bodies: list[dict[str, Any]], at: datetime = T0) -> str:
    batch = BatchRecord(
        id=f"msgbatch_{at.timestamp():.0f}",
        organization_id="org",
        workspace_id="ws",
        api_key_id="key",
        version="2023-06-01",
        total=len(bodies),
        created_at=at,
        expires_at=at + timedelta(hours=24),
    )
    await store.create(batch, new_requests([(f"c{i}", b) for i, b in enumerate(bodies)]))
    return batch.id


async def test_claims_are_leased_so_a_second_worker_gets_the_others(store: BatchStore) -> None:
    await add(store, [params(f"q{i}") for i in range(3)])
    first = await store.claim("w1", 2, T0, LEASE)
    second = await store.claim("w2", 2, T0, LEASE)
    assert [r.custom_id for r in first] == ["c0", "c1"]
    assert [r.custom_id for r in second] == ["c2"]


async def test_a_lapsed_lease_is_claimed_again(store: BatchStore) -> None:
    await add(store, [params("q")])
    await store.claim("dead", 1, T0, LEASE)
    assert await store.claim("w2", 1, T0 + timedelta(seconds=LEASE - 1), LEASE) == []
    [again] = await store.claim("w2", 1, T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert again.custom_id == "c0"


async def test_only_the_lease_holder_completes_a_request_and_only_once(
    store: BatchStore,
) -> None:
    batch_id = await add(store, [params("q")])
    [claimed] = await store.claim("dead", 1, T0, LEASE)
    [again] = await store.claim("w2", 1, T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert await store.complete(again, "w2", "succeeded", '{"type":"succeeded"}', T0)
    assert not await store.complete(claimed, "dead", "errored", '{"type":"errored"}', T0)
    assert not await store.complete(again, "w2", "succeeded", '{"type":"succeeded"}', T0)
    batch = await store.get(batch_id)
    assert batch is not None and batch.ended_at == T0
    assert batch.request_counts()["succeeded"] == 1


async def test_a_groups_siblings_wait_for_its_leader(store: BatchStore) -> None:
    doc = "a long shared document"
    await add(store, [params("q0", doc), params("q1", doc), params("alone"), params("q2", doc)])
    claimed = await store.claim("w", 10, T0, LEASE)
    assert [r.custom_id for r in claimed] == ["c0", "c2"]  # the leader, and one with no group
    await store.complete(claimed[0], "w", "succeeded", "{}", T0)
    siblings = await store.claim("w", 10, T0, LEASE)
    assert [r.custom_id for r in siblings] == ["c1", "c3"]


async def test_an_older_batch_runs_first(store: BatchStore) -> None:
    newer = await add(store, [params("n")], T0 + timedelta(minutes=1))
    older = await add(store, [params("o")], T0)
    claimed = await store.claim("w", 2, T0 + timedelta(minutes=2), LEASE)
    assert [r.batch_id for r in claimed] == [older, newer]


async def test_cancel_ends_unclaimed_requests_and_the_batch_once_the_rest_finish(
    store: BatchStore,
) -> None:
    batch_id = await add(store, [params(f"q{i}") for i in range(3)])
    [running] = await store.claim("w", 1, T0, LEASE)
    await store.cancel(batch_id, T0)
    assert await store.claim("w", 5, T0, LEASE) == []
    canceling = await store.get(batch_id)
    assert canceling is not None and canceling.processing_status == "canceling"
    await store.complete(running, "w", "succeeded", "{}", T0 + timedelta(seconds=5))
    ended = await store.get(batch_id)
    assert ended is not None and ended.processing_status == "ended"
    assert ended.request_counts() == {
        "processing": 0,
        "succeeded": 1,
        "errored": 0,
        "canceled": 2,
        "expired": 0,
    }


async def test_the_sweep_expires_unheld_requests_and_archives_old_results(
    store: BatchStore,
) -> None:
    batch_id = await add(store, [params("q0"), params("q1")])
    late = T0 + timedelta(hours=24, seconds=1)
    await store.sweep(late, archive_before=T0 - timedelta(days=1))
    batch = await store.get(batch_id)
    assert batch is not None and batch.ended_at == late
    assert batch.request_counts()["expired"] == 2
    assert [r.state for r in [row async for row in store.results(batch_id)]] == [
        "expired",
        "expired",
    ]
    await store.sweep(late + timedelta(days=29), archive_before=T0 + timedelta(seconds=1))
    archived = await store.get(batch_id)
    assert archived is not None and archived.archived_at == late + timedelta(days=29)
    assert [row async for row in store.results(batch_id)] == []
    assert archived.request_counts()["expired"] == 2


async def test_the_queue_counts_an_organizations_processing_requests(store: BatchStore) -> None:
    await add(store, [params("q0"), params("q1")])
    [claimed] = await store.claim("w", 1, T0, LEASE)
    assert await store.queued("org") == 2
    await store.complete(claimed, "w", "succeeded", "{}", T0)
    assert (await store.queued("org"), await store.queued("another")) == (1, 0)
