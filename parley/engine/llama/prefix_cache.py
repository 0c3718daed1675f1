"""A token-level radix tree of prefixes whose KV cells are kept in the llama.cpp cache.

Each cached prefix ends at a leaf owned by one sequence id of the unified KV cache; every
sequence id listed on a node shares that node's cells physically (`seq_cp` tags cells, it does
not copy them). So the tree's token count is exactly the number of cells the cache holds.

The tree does no I/O: it returns the cache operations (`KvOp`) for the scheduler to apply.
Tenants get separate roots, so no prefix is ever shared across workspaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from parley.engine.llama.token_runs import common_length


@dataclass(frozen=True)
class Remove:
    """`seq_rm(seq, start, end)`: drop the sequence's tag from its cells in [start, end);
    `end` -1 means to the end of the sequence."""

    seq: int
    start: int
    end: int = -1


@dataclass(frozen=True)
class Share:
    """`seq_cp(source, target, 0, length)`: `target` shares `source`'s first `length` cells."""

    source: int
    target: int
    length: int


KvOp = Remove | Share


@dataclass(eq=False)
class Node:
    tokens: tuple[int, ...]
    start: int
    parent: Node | None
    children: dict[int, Node] = field(default_factory=dict)
    seqs: set[int] = field(default_factory=set)
    last_used: float = 0.0
    pinned_until: float = 0.0
    locks: int = 0

    @property
    def end(self) -> int:
        return self.start + len(self.tokens)


@dataclass(frozen=True)
class Match:
    """The longest cached prefix of a prompt: `length` tokens, held by `seq` (if length > 0)."""

    length: int
    node: Node | None
    seq: int


@dataclass(frozen=True)
class Change:
    """What an insert or eviction did: cache operations, and sequence ids now free."""

    ops: list[KvOp]
    freed: list[int]


@dataclass(frozen=True)
class Evicted:
    """`tokens`: the whole evicted prefix; `dropped`: how many of its cells left the cache (the
    rest, shared with other entries, stay); `pinned`: it was evicted while still pinned."""

    change: Change
    tenant: str
    tokens: tuple[int, ...]
    seq: int
    dropped: int
    pinned: bool = False


class PrefixCache:
    def __init__(self) -> None:
        self._roots: dict[str, Node] = {}
        self._leaves: dict[int, tuple[str, Node]] = {}
        self.cells = 0

    @property
    def entries(self) -> int:
        return len(self._leaves)

    def _root(self, tenant: str) -> Node:
        root = self._roots.get(tenant)
        if root is None:
            root = self._roots[tenant] = Node(tokens=(), start=0, parent=None)
        return root

    def _walk(self, tenant: str, tokens: Sequence[int]) -> tuple[Node, int, int]:
        """(deepest node reached, tokens matched inside it, total matched)."""
        node = self._root(tenant)
        matched = 0
        inside = 0
        while matched < len(tokens):
            child = node.children.get(tokens[matched])
            if child is None:
                break
            held = child.tokens
            inside = common_length(held, tuple(tokens[matched : matched + len(held)]))
            matched += inside
            node = child
            if inside < len(child.tokens):
                break
        return node, inside, matched

    def match(self, tenant: str, tokens: Sequence[int], now: float) -> Match:
        """The match ends on a node boundary (a node is split if need be), so locking the
        matched node protects only the shared cells, not the rest of another entry."""
        node, inside, matched = self._walk(tenant, tokens)
        if matched == 0 or node.parent is None:
            return Match(0, None, -1)
        if inside < len(node.tokens):
            node = self._split(node, inside)
        self._touch(node, now)
        return Match(matched, node, next(iter(node.seqs)))

    def cached_length(self, tenant: str, tokens: Sequence[int]) -> int:
        """How many leading tokens of `tokens` are cached, without touching the tree."""
        return self._walk(tenant, tokens)[2]

    def pin(self, tenant: str, tokens: Sequence[int], until: float) -> int:
        """Keeps the cached part of `tokens` from eviction until `until`; returns its length."""
        node, _inside, matched = self._walk(tenant, tokens)
        if matched and node.parent is not None:
            node.pinned_until = max(node.pinned_until, until)
        return matched

    def lock(self, node: Node) -> None:
        node.locks += 1

    def unlock(self, node: Node) -> None:
        node.locks -= 1

    def insert(self, tenant: str, tokens: Sequence[int], seq: int, now: float) -> Change:
        """Caches `seq`, whose KV holds `tokens` from position 0. The shared part is re-pointed
        at the tree's cells; entries that `tokens` extends become redundant and are released."""
        node, inside, matched = self._walk(tenant, tokens)
        if matched == len(tokens):
            self._touch(node, now)
            return Change([Remove(seq, 0)], [seq])
        if 0 < inside < len(node.tokens):
            node = self._split(node, inside)
        ops: list[KvOp] = []
        freed: list[int] = []
        if matched:
            holder = next(iter(node.seqs))
            ops += [Remove(seq, 0, matched), Share(holder, seq, matched)]
            if not node.children:  # an entry ending here is a prefix of the new one
                redundant = self._leaves.pop(holder)[1]
                assert redundant is node
                ops.append(Remove(holder, 0))
                freed.append(holder)
                self._untag(node, holder)
        leaf = Node(tokens=tuple(tokens[matched:]), start=matched, parent=node, last_used=now)
        node.children[leaf.tokens[0]] = leaf
        self._tag(leaf, seq)
        self._leaves[seq] = (tenant, leaf)
        self.cells += len(leaf.tokens)
        self._touch(leaf, now)
        return Change(ops, freed)

    def evict_one(self, now: float) -> Evicted | None:
        """Evicts the least recently used unlocked leaf, unpinned ones first: a pin is a
        priority, never a reason to refuse a request room."""
        candidates = [
            (leaf.pinned_until > now, leaf.last_used, seq)
            for seq, (_tenant, leaf) in self._leaves.items()
            if leaf.locks == 0
        ]
        if not candidates:
            return None
        pinned, *_, seq = min(candidates)
        return self._evict(seq, pinned=pinned)

    def expired(self, now: float, idle_seconds: float) -> Iterator[Evicted]:
        """Evicts every leaf unused for `idle_seconds` (and not pinned or locked)."""
        while True:
            stale = [
                seq
                for seq, (_t, leaf) in self._leaves.items()
                if leaf.locks == 0
                and leaf.pinned_until <= now
                and now - leaf.last_used >= idle_seconds
            ]
            if not stale:
                return
            yield self._evict(stale[0])

    def _evict(self, seq: int, *, pinned: bool = False) -> Evicted:
        tenant, leaf = self._leaves.pop(seq)
        full = self._path_tokens(leaf)
        parent = leaf.parent
        assert parent is not None
        del parent.children[leaf.tokens[0]]
        self.cells -= len(leaf.tokens)
        ops: list[KvOp] = [Remove(seq, leaf.start)]
        freed: list[int] = []
        if parent.parent is None:
            freed.append(seq)
        elif not parent.children:
            parent.seqs = {seq}
            self._leaves[seq] = (tenant, parent)
        else:
            self._untag(parent, seq)
            ops.append(Remove(seq, 0))
            freed.append(seq)
        return Evicted(Change(ops, freed), tenant, full, seq, len(leaf.tokens), pinned)

    def _split(self, node: Node, at: int) -> Node:
        """Splits `node` after `at` tokens; returns the new upper part. The lower part keeps the
        node object (and so its locks, pins and leaf ownership)."""
        parent = node.parent
        assert parent is not None
        upper = Node(
            tokens=node.tokens[:at],
            start=node.start,
            parent=parent,
            seqs=set(node.seqs),
            last_used=node.last_used,
        )
        parent.children[upper.tokens[0]] = upper
        node.tokens = node.tokens[at:]
        node.start += at
        node.parent = upper
        upper.children[node.tokens[0]] = node
        return upper

    def _tag(self, node: Node, seq: int) -> None:
        current: Node | None = node
        while current is not None and current.parent is not None:
            current.seqs.add(seq)
            current = current.parent

    def _untag(self, node: Node, seq: int) -> None:
        current: Node | None = node
        while current is not None and current.parent is not None:
            current.seqs.discard(seq)
            current = current.parent

    def _touch(self, node: Node, now: float) -> None:
        current: Node | None = node
        while current is not None and current.parent is not None:
            current.last_used = now
            current = current.parent

    def _path_tokens(self, node: Node) -> tuple[int, ...]:
        parts: list[tuple[int, ...]] = []
        current: Node | None = node
        while current is not None and current.parent is not None:
            parts.append(current.tokens)
            current = current.parent
        return tuple(token for part in reversed(parts) for token in part)
