"""The protocols that services depend on; adapters in engine/ and store/ implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from parley.domain.prompt import Conversation


@dataclass(frozen=True)
class Sampling:
    """temperature 0 is greedy (deterministic); None leaves top_p / top_k off."""

    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class GenerateRequest:
    prompt: Sequence[int]
    max_tokens: int
    sampling: Sampling
    tenant: str


@dataclass(frozen=True)
class TokenOut:
    token: int
    piece: bytes


EndReason = Literal["end_of_generation", "max_tokens", "context_window"]


@dataclass(frozen=True)
class GenerationEnd:
    """`reused_tokens`: prompt tokens served from the physical prefix cache (a metric, never
    a bill: what is billed as a cache read comes from the cache_control rules alone)."""

    reason: EndReason
    reused_tokens: int = 0


EngineEvent = TokenOut | GenerationEnd


class EngineStream(Protocol):
    """The events of one generation; `aclose` cancels it if it is still running."""

    def __aiter__(self) -> AsyncIterator[EngineEvent]: ...

    async def aclose(self) -> None: ...


class Engine(Protocol):
    """One loaded model. `generate` queues the request at once (or raises OverloadedError), so
    a refusal is a 529 before any response header is sent."""

    context_window: int

    def render(self, conversation: Conversation) -> list[int]: ...

    def generate(self, request: GenerateRequest) -> EngineStream: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its workspace and organization."""

    key_id: str
    organization_id: str
    workspace_id: str
    is_admin: bool


@dataclass(frozen=True)
class CreatedKey:
    principal: Principal
    secret: str
    name: str


class Keys(Protocol):
    async def authenticate(self, secret: str) -> Principal | None: ...
