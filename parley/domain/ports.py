"""The protocols that services depend on; adapters in engine/ and store/ implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from parley.domain.batches import BatchRecord, ClaimedRequest, NewRequest, RequestState, ResultRow
from parley.domain.buckets import Admission, Bucket, Charge
from parley.domain.caching import EntryWrite
from parley.domain.diagnostics import Fingerprint
from parley.domain.metering import LedgerEntry
from parley.domain.prompt import CacheTtl, Conversation
from parley.domain.reports import Totals
from parley.domain.tenancy import KeyInfo, WorkspaceInfo
from parley.domain.threads import ClaimRefusal, ThreadRecord
from parley.domain.tools import ToolFormat


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
    `keep_warm`: seconds for which the whole conversation, prompt and answer, should stay warm
    (a thread's reply, which its continue extends: kept before other prefixes, never billed).
    `max_tokens` 0 computes the prompt into the cache and generates nothing.
    `answer`: the whole output follows this constraint (structured output, forced tool call);
    `tool_call`: a call begun under `auto` is finished under its constraint.
    `regions`: the regions the request may run in (None: anywhere); an engine bound to a
    region serves it only if its region is among them, one that serves every region (the
    in-process engine) serves it wherever.
    `priority`: 0 for interactive requests; a higher number (batch work) waits while lower
    ones are waiting."""

    prompt: Sequence[int]
    max_tokens: int
    sampling: Sampling
    tenant: str
    pins: tuple[tuple[int, float], ...] = ()
    keep_warm: float = 0.0
    answer: JsonConstraint | None = None
    tool_call: ToolCallConstraint | None = None
    regions: frozenset[str] | None = None
    priority: int = 0


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

    @property
    def tool_format(self) -> ToolFormat:
        """How the model's chat format writes tool use (domain/tools.py)."""

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        """`block_ends` False skips finding where each block ends (count_tokens needs only
        the tokens)."""

    def generate(self, request: GenerateRequest) -> EngineStream: ...

    def check_room(self, priority: int) -> None:
        """Raises OverloadedError when a request of `priority` queued now would be refused
        (the refusal does not depend on the request's own tokens): the pipeline asks before
        rendering, so that a flood is refused for little work."""

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
    """Logical prompt-cache entries (what is billed), keyed by workspace and the chained prefix
    hash: one workspace never sees another's entries, whatever the hash."""

    async def live(self, scope: CacheScope, keys: Sequence[str], now: float) -> set[str]: ...

    async def record(
        self, scope: CacheScope, writes: Sequence[EntryWrite], hit: str | None, now: float
    ) -> None:
        """Creates or extends the written entries, and refreshes the one that was read."""

    async def entries(self, organization_id: str, now: float) -> list[CacheEntry]: ...

    async def close(self) -> None:
        """Releases its connections at shutdown (nothing to release in memory)."""


class Fingerprints(Protocol):
    """Each message's prompt fingerprint, for `diagnostics.previous_message_id`."""

    async def remember(self, workspace_id: str, message_id: str, print_: Fingerprint) -> None: ...

    async def recall(self, workspace_id: str, message_id: str) -> Fingerprint | None: ...

    async def close(self) -> None:
        """Releases its connections at shutdown (nothing to release in memory)."""


class ThreadStore(Protocol):
    """Stored thread replies by key (workspace and reply id): in this process's memory, or in
    Redis, sealed, shared by replicas. Never on disk."""

    async def put(self, key: str, record: ThreadRecord, now: float) -> None: ...

    async def claim(self, key: str) -> ThreadRecord | ClaimRefusal:
        """Marks the reply in flight, atomically, and returns it; or says why it cannot be
        continued."""

    async def release(self, key: str, *, continued: bool) -> None:
        """Ends a claim: a reply that was continued stays refused; one whose continue failed
        can be continued again."""

    async def close(self) -> None:
        """Releases its connections at shutdown (nothing to release in memory)."""


class LimiterBackend(Protocol):
    """Where the token buckets live: this process, or Redis shared by replicas."""

    async def admit(self, charges: Sequence[Charge], now: float) -> Admission:
        """All charges or none, atomically."""

    async def settle(self, charges: Sequence[Charge], now: float) -> list[Bucket]:
        """Corrections after the fact: each charge's cost is the tokens used beyond it."""

    async def peek(self, charges: Sequence[Charge], now: float) -> list[Bucket | None]: ...

    async def close(self) -> None:
        """Releases its connections at shutdown (nothing to release in memory)."""


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


class BatchQueue(Protocol):
    """Message Batches and their requests, shared by every worker: a worker claims requests
    under a lease (an expired lease, a dead worker's, is claimed again) and completes each
    exactly once. Times are the caller's clock's."""

    async def create(self, batch: BatchRecord, requests: Sequence[NewRequest]) -> None: ...

    async def get(self, batch_id: str) -> BatchRecord | None: ...

    async def listed(self, organization_id: str, workspace_id: str | None) -> list[BatchRecord]:
        """Newest first; `workspace_id` None: the whole organization's."""

    async def tally(self, batch_id: str) -> dict[str, int]:
        """How many of the batch's requests are in each state now."""

    async def queued(self, organization_id: str) -> int:
        """The organization's requests still processing, in all its batches."""

    async def cancel(self, batch_id: str, now: datetime) -> None:
        """Marks the batch canceling and ends its requests no worker holds `canceled`."""

    async def delete(self, batch_id: str) -> None: ...

    def results(self, batch_id: str) -> AsyncIterator[ResultRow]:
        """Every request's outcome, in the batch's order."""

    async def claim(
        self, worker: str, limit: int, now: datetime, lease: float
    ) -> list[ClaimedRequest]:
        """Up to `limit` requests to run, leased to `worker` for `lease` seconds: oldest
        batch first, a group's leader before its siblings, none of a canceling or expired
        batch."""

    async def renew(self, worker: str, now: datetime, lease: float) -> None:
        """Extends the leases `worker` holds (its heartbeat)."""

    async def release(self, request: ClaimedRequest, worker: str) -> None:
        """Gives a claimed request back unrun (the engine was full)."""

    async def complete(
        self,
        request: ClaimedRequest,
        worker: str,
        state: RequestState,
        result: str | None,
        now: datetime,
    ) -> bool:
        """Ends the request, if `worker` still holds it; False if it did not (its lease
        passed to another worker). Ends its batch when it was the last one."""

    async def sweep(self, now: datetime, archive_before: datetime) -> None:
        """Expires the unheld requests of batches past `expires_at`, ends batches with none
        left, and deletes the results of batches created before `archive_before`."""
