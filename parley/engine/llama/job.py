"""A job: one request inside the scheduler, from its queueing to its last event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.domain.ports import EngineEvent, GenerateRequest
from parley.engine.llama.grammar import CallGrammar
from parley.engine.llama.prefix_cache import Node

Emit = Callable[[EngineEvent | BaseException], None]


@dataclass(eq=False)
class Job:
    """`grammar` is what its sampler enforces now; `call` waits for its opening tag. Only the
    decode thread changes it, but for `cancel`."""

    request: GenerateRequest
    emit: Emit
    tokens: list[int]
    grammar: str | None = None
    call: CallGrammar | None = None
    cancelled: bool = False
    seq_id: int = -1
    need: int = 0  # the KV cells reserved for it
    n_past: int = 0
    reused: int = 0
    generated: int = 0
    pending: int | None = None  # the token sampled last, decoded at the next step
    logits_index: int = -1
    sampler: Any = None
    locked: Node | None = None  # the cached prefix it shares, kept from eviction
    tail: bytes = b""  # the text's last bytes, to see a tool call begin
    prompt_length: int = field(init=False)

    def __post_init__(self) -> None:
        self.prompt_length = len(self.tokens)

    def cancel(self) -> None:
        """Called from any thread; the scheduler frees the job at its next step."""
        self.cancelled = True
