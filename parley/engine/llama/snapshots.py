"""The colder tier of the prefix cache: whole-sequence KV states kept in host RAM.

A prefix evicted from the KV cells is saved here (within a byte budget, least recently used
out first); a later prompt that shares more with a snapshot than with the KV cells restores it
instead of recomputing. Entries are per tenant, like the radix tree's roots.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parley.engine.llama.token_runs import common_length

MIN_TOKENS = 256  # shorter prefixes recompute faster than a snapshot restores


def _packed(tokens: Sequence[int]) -> bytes:
    return array("i", tokens).tobytes()


@dataclass(frozen=True)
class Snapshot:
    tenant: str
    tokens: bytes
    pinned: bool
    # llama.cpp reads and writes it in place: no copies of tens of MB, and no zero-filling
    # while holding the GIL (numpy leaves fresh memory to the kernel)
    state: npt.NDArray[np.uint8]

    @property
    def length(self) -> int:
        return len(self.tokens) // 4


class SnapshotStore:
    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._items: OrderedDict[tuple[str, bytes], Snapshot] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(
        self,
        tenant: str,
        tokens: Sequence[int],
        state: npt.NDArray[np.uint8],
        *,
        pinned: bool = False,
    ) -> None:
        """`pinned` snapshots (a thread's conversation) leave after every unpinned one."""
        if len(state) > self._budget:
            return
        snapshot = Snapshot(tenant, _packed(tokens), pinned, state)
        key = (tenant, snapshot.tokens)
        if key in self._items:
            self.bytes -= len(self._items.pop(key).state)
        self._items[key] = snapshot
        self.bytes += len(state)
        while self.bytes > self._budget:
            victim = next((k for k, s in self._items.items() if not s.pinned), None)
            oldest = self._items.pop(victim) if victim else self._items.popitem(last=False)[1]
            self.bytes -= len(oldest.state)

    def best(self, tenant: str, tokens: Sequence[int]) -> tuple[int, Snapshot | None]:
        """The snapshot sharing the longest prefix with `tokens`, and that length."""
        if not any(owner == tenant for owner, _ in self._items):
            return 0, None  # the common case: nothing in RAM for this tenant, nothing to pack
        packed = _packed(tokens)
        best_length, best = 0, None
        for (owner, _), snapshot in self._items.items():
            if owner == tenant:
                length = common_length(packed, snapshot.tokens, unit=4)
                if length > best_length:
                    best_length, best = length, snapshot
        if best is not None:
            self._items.move_to_end((tenant, best.tokens))
        return best_length, best

    def worth_keeping(self, tenant: str, tokens: Sequence[int], dropped: int) -> bool:
        """Whether an evicted prefix, `dropped` of whose cells leave the KV cache, is worth a
        snapshot: long enough to beat recomputing, and not already here but for a short tail
        (a prefix restored from a snapshot, to which one question and answer were added)."""
        if dropped < MIN_TOKENS:
            return False
        covered, _ = self.best(tenant, tokens)
        return len(tokens) - covered >= MIN_TOKENS
