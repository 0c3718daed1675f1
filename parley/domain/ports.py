"""The protocols that services depend on; adapters in engine/ and store/ implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from parley.domain.buckets import Admission, Bucket, Charge
from parley.domain.caching import EntryWrite
from parley.domain.diagnostics import Fingerprint
from parley.domain.metering import LedgerEntry
from parley.domain.prompt import CacheTtl, Conversation
from parley.domain.reports import Totals
from parley.domain.tenancy import KeyInfo, WorkspaceInfo


@dataclass(frozen=True)
class Sampling:
    """temperature 0 is greedy (deterministic); None leaves top_p / top_k off."""

    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class RenderedPrompt:
    """The prompt's tokens, and the token position where each request block ends (None where
    the template made it impossible to tell)."""

    tokens: list[int]
    block_ends: list[int | None]


@dataclass(frozen=True)
class JsonConstraint:
    """Output that must be JSON valid under `schema`. Each engine compiles it to what it runs
    (a GBNF grammar in-process, a JSON Schema over HTTP); `field` names the request field the
    schema came from, for the 400 when an engine cannot enforce it."""

    schema: dict[str, Any]
    field: str


@dataclass(frozen=True)
class ToolCallConstraint:
    """A tool call the model may begin on its own (`tool_choice` auto): once the text (the
    prompt's prefill or the output) ends with `opening`, the rest of the call is JSON under
    `arguments` followed by the literal `closing`."""

    arguments: JsonConstraint
    opening: str
    closing: str


@dataclass(frozen=True)
class GenerateRequest:
    """`pins`: (prefix length, seconds) for which the physical cache should keep that prefix
    of the prompt warm once it is computed (the logical cache entries' TTLs).
    `max_tokens` 0 computes the prompt into the cache and generates nothing.
    `answer`: the whole output follows this constraint (structured output, forced tool call);
    `tool_call`: a call begun under `auto` is finished under its constraint.
    `regions`: the regions the request may run in (None: anywhere); an engine bound to a
    region serves it only if its region is among them, one that serves every region (the
    in-process engine) serves it wherever."""

    prompt: Sequence[int]
    max_tokens: int
    sampling: Sampling
    tenant: str
    pins: tuple[tuple[int, float], ...] = ()
    answer: JsonConstraint | None = None
    tool_call: ToolCallConstraint | None = None
    regions: frozenset[str] | None = None


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
    """One loaded model. `generate` queues the request at once (or raises OverloadedError, or
    InvalidRequestError for a constraint it cannot enforce), so a refusal comes before any
    response header is sent. Rendering stays on the port so that counting, usage and cache
    planning are exact to the token whatever runs the model."""

    context_window: int

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        """`block_ends` False skips finding where each block ends (count_tokens needs only
        the tokens)."""

    def generate(self, request: GenerateRequest) -> EngineStream: ...

    async def close(self) -> None: ...


class Clock(Protocol):
    """Wall-clock seconds; tests inject a fake to expire cache entries."""

    def now(self) -> float: ...


@dataclass(frozen=True)
class CacheEntry:
    """A live logical cache entry, as operators see it."""

    organization_id: str
    workspace_id: str
    model: str
    tokens: int
    ttl: CacheTtl
    expires_at: float
    hits: int
    created_at: float


@dataclass(frozen=True)
class CacheScope:
    """Who may read an entry: one workspace, on one model. The organization is for listing."""

    organization_id: str
    workspace_id: str
    model: str

    @property
    def key(self) -> str:
        return f"{self.workspace_id}\0{self.model}"


class CacheRegistry(Protocol):
    """Logical prompt-cache entries (what is billed), keyed by the chained prefix hash."""

    async def live(self, keys: Sequence[str], now: float) -> set[str]: ...

    async def record(
        self, scope: CacheScope, writes: Sequence[EntryWrite], hit: str | None, now: float
    ) -> None:
        """Creates or extends the written entries, and refreshes the one that was read."""

    async def entries(self, now: float) -> list[CacheEntry]: ...


class Fingerprints(Protocol):
    """Each message's prompt fingerprint, for `diagnostics.previous_message_id`."""

    async def remember(self, workspace_id: str, message_id: str, print_: Fingerprint) -> None: ...

    async def recall(self, workspace_id: str, message_id: str) -> Fingerprint | None: ...


class LimiterBackend(Protocol):
    """Where the token buckets live: this process, or Redis shared by replicas."""

    async def admit(self, charges: Sequence[Charge], now: float) -> Admission:
        """All charges or none, atomically."""

    async def settle(self, charges: Sequence[Charge], now: float) -> list[Bucket]:
        """Corrections after the fact: each charge's cost is the tokens used beyond it."""

    async def peek(self, charges: Sequence[Charge], now: float) -> list[Bucket | None]: ...


class Ledger(Protocol):
    """The billed requests, one row each: what metering writes, and what the reports and the
    spend cap read."""

    async def record(self, entry: LedgerEntry) -> bool:
        """Inserts once; False if the request id was already there."""

    async def read(
        self, organization_id: str, starting_at: datetime, ending_at: datetime
    ) -> list[LedgerEntry]:
        """An organization's entries completed in [starting_at, ending_at)."""

    async def totals(
        self,
        organization_id: str,
        starting_at: datetime,
        ending_at: datetime,
        width: str,
        dimensions: Sequence[str],
    ) -> list[Totals]:
        """The sums of the entries completed in [starting_at, ending_at), per bucket of
        `width` and group of `dimensions` (report dimension names), summed by the database."""

    async def month_spend(self, organization_id: str, now: float) -> Decimal:
        """USD billed since the start of `now`'s UTC month (the spend cap's window)."""


class Tenancy(Protocol):
    """Organizations and what they own: workspaces, the listing of keys, credit and tier."""

    async def first_organization(self) -> str | None:
        """The oldest organization's id (the one a single-organization install has); None
        before the first key is created."""

    async def tier_of(self, organization_id: str) -> str | None:
        """The organization's tier; None for the configured default."""

    async def create_workspace(self, organization_id: str, name: str) -> WorkspaceInfo:
        """The workspace called `name`, created if missing."""

    async def workspaces(self, organization_id: str) -> list[WorkspaceInfo]: ...

    async def keys(self, organization_id: str) -> list[KeyInfo]: ...

    async def update_key(
        self, organization_id: str, key_id: str, *, name: str | None, status: str | None
    ) -> KeyInfo | None: ...

    async def add_credit(self, organization_id: str, amount: Decimal) -> Decimal:
        """Records a purchase; returns the organization's cumulative purchases."""

    async def set_tier(self, organization_id: str, tier: str) -> None: ...


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
    """API keys, stored as digests of their secrets."""

    async def authenticate(self, secret: str) -> Principal | None:
        """The active key's principal; None for an unknown or disabled secret."""

    async def create(
        self,
        *,
        name: str,
        workspace: str = ...,
        admin: bool = False,
        secret: str | None = None,
    ) -> CreatedKey:
        """A new key (`secret` imported, or one generated) in the default organization's
        `workspace` ("default" if omitted), both created if missing; an admin key belongs to
        no workspace. ValueError if the secret is already a key's."""


@dataclass(frozen=True)
class AwsSecret:
    """An AWS access key's secret, and the principal of the API key it belongs to."""

    principal: Principal
    secret_access_key: str


class AwsCredentials(Protocol):
    """AWS access keys that sign requests (SigV4) for an API key; secrets sealed at rest."""

    async def secret_for(self, access_key_id: str) -> AwsSecret | None:
        """The secret of an active access key whose API key is active too; None otherwise."""
