"""The host-RAM tier of the prefix cache: a thread's (pinned) snapshots leave it last."""

from __future__ import annotations

import numpy as np

from parley.engine.llama.snapshots import SnapshotStore


def state(size: int) -> np.ndarray:
    return np.zeros(size, dtype=np.uint8)


def test_the_oldest_snapshot_leaves_when_the_budget_is_full() -> None:
    store = SnapshotStore(budget_bytes=200)
    for first in (1, 2, 3):
        store.put("t", [first] * 300, state(100))
    assert store.best("t", [1] * 300) == (0, None)
    assert store.best("t", [3] * 300)[0] == 300


def test_a_pinned_snapshot_leaves_after_every_unpinned_one() -> None:
    store = SnapshotStore(budget_bytes=200)
    store.put("t", [1] * 300, state(100), pinned=True)
    store.put("t", [2] * 300, state(100))
    store.put("t", [3] * 300, state(100))
    assert store.best("t", [1] * 300)[0] == 300
    assert store.best("t", [2] * 300) == (0, None)
    assert len(store) == 2
