"""Which replica serves a request. Prefix-aware: a request goes to the replica that last
served its longest known prompt prefix (the prefix is keyed by the workspace and the prompt's
tokens up to each cache breakpoint and each BLOCK boundary, as a chained hash), unless that
replica already runs more than `imbalance_cap` requests beyond the least loaded one; otherwise,
and for a prefix never seen, the least loaded replica. The idea of SGLang's cache-aware router
and llm-d's prefix-cache scorer, written here over the gateway's own view of the replicas.
Round-robin is kept as a setting, for comparison."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from parley.domain.ports import GenerateRequest
from parley.engine.remote.replicas import ReplicaState

BLOCK = 256  # prompt tokens per routing key, for requests without cache breakpoints


@dataclass(frozen=True)
class Choice:
    """`prefix`: how many leading prompt tokens the chosen replica should hold for the request
    to count as a prefix hit (see `cached_prefix`)."""

    replica: ReplicaState
    prefix: int


def prefix_keys(request: GenerateRequest) -> list[tuple[int, bytes]]:
    """(prefix length, key), longest first: a key at each cache pin and each full BLOCK of
    the prompt but its last token (a server always recomputes that one)."""
    prompt = request.prompt
    usable = len(prompt) - 1
    lengths = {length for length, _ in request.pins if 0 < length <= usable}
    lengths.update(range(BLOCK, usable + 1, BLOCK))
    digest = hashlib.blake2b(request.tenant.encode(), digest_size=16)
    keys: list[tuple[int, bytes]] = []
    done = 0
    for length in sorted(lengths):
        digest.update(array("i", prompt[done:length]).tobytes())
        done = length
        keys.append((length, digest.copy().digest()))
    keys.reverse()
    return keys


def cached_prefix(request: GenerateRequest) -> int:
    """The prefix a hit must reuse: the longest cache pin, or without pins the longest whole
    BLOCK before the last token (0 for a short prompt)."""
    usable = len(request.prompt) - 1
    pins = [length for length, _ in request.pins if 0 < length <= usable]
    return max(pins) if pins else usable // BLOCK * BLOCK if usable > 0 else 0


class Router(Protocol):
    def choose(self, request: GenerateRequest, candidates: Sequence[ReplicaState]) -> Choice:
        """`candidates` is never empty."""


class RoundRobinRouter:
    def __init__(self) -> None:
        self._turn = 0

    def choose(self, request: GenerateRequest, candidates: Sequence[ReplicaState]) -> Choice:
        self._turn += 1
        return Choice(candidates[self._turn % len(candidates)], cached_prefix(request))


class PrefixRouter:
    """Remembers up to `capacity` prefix keys, least recently used forgotten first."""

    def __init__(self, imbalance_cap: int, capacity: int = 65536) -> None:
        self._cap = imbalance_cap
        self._capacity = capacity
        self._owners: OrderedDict[bytes, str] = OrderedDict()
        self._turn = 0

    def choose(self, request: GenerateRequest, candidates: Sequence[ReplicaState]) -> Choice:
        keys = prefix_keys(request)
        least = min(replica.in_flight for replica in candidates)
        by_url = {replica.url: replica for replica in candidates}
        chosen = None
        for _, key in keys:
            owner = by_url.get(self._owners.get(key, ""))
            if owner is not None and owner.in_flight <= least + self._cap:
                chosen = owner
                break
        if chosen is None:
            chosen = self._least_loaded(candidates, least)
        for _, key in keys:
            self._owners[key] = chosen.url
            self._owners.move_to_end(key)
        while len(self._owners) > self._capacity:
            self._owners.popitem(last=False)
        return Choice(chosen, cached_prefix(request))

    def _least_loaded(self, candidates: Sequence[ReplicaState], least: int) -> ReplicaState:
        """Among the least loaded, in turn (so an idle pool spreads new prefixes evenly)."""
        idle = [replica for replica in candidates if replica.in_flight == least]
        self._turn += 1
        return idle[self._turn % len(idle)]
