"""A request made ready to generate: validated, rendered to tokens, its cache planned and its
limits admitted. It knows what its usage and its Message are once generation has ended, so the
JSON answer, the stream and the ledger all read the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parley.domain.billing import BillingContext
from parley.domain.caching import CachePlan
from parley.domain.catalog import ModelEntry
from parley.domain.ports import Engine, GenerateRequest, Principal, Sampling
from parley.domain.threads import IDLE_SECONDS
from parley.domain.tool_policy import ToolPolicy
from parley.services.caching import CacheDecision
from parley.services.generation import Outcome
from parley.services.limits import Ticket
from parley.wire.messages import (
    CacheCreation,
    ContentBlock,
    Diagnostics,
    FallbackCredit,
    Message,
    MessageCreateParams,
    Usage,
)


@dataclass(frozen=True, kw_only=True)
class PreparedMessage:
    params: MessageCreateParams
    entry: ModelEntry
    engine: Engine
    prompt: list[int]
    prefill: str  # a final assistant turn, which the answer continues
    policy: ToolPolicy
    principal: Principal
    billing: BillingContext
    message_id: str
    request_id: str
    started_at: datetime
    cache: CacheDecision
    ticket: Ticket
    diagnostics: Diagnostics | None = None
    regions: frozenset[str] | None = None  # where it may run (domain/regions.py); None: anywhere
    priority: int = 0  # GenerateRequest.priority: batch work runs behind interactive requests

    @property
    def plan(self) -> CachePlan:
        return self.cache.plan

    def usage(self, output_tokens: int) -> Usage:
        plan = self.plan
        return Usage(
            input_tokens=plan.uncached,
            cache_creation_input_tokens=plan.written,
            cache_read_input_tokens=plan.read,
            cache_creation=CacheCreation(
                ephemeral_5m_input_tokens=plan.write_5m,
                ephemeral_1h_input_tokens=plan.write_1h,
            ),
            output_tokens=output_tokens,
            service_tier=self.billing.service_tier,
            fallback_credit=None if self.params.fallback_credit_token is None else FallbackCredit(),
        )

    def message(self, content: list[ContentBlock], outcome: Outcome | None) -> Message:
        return Message(
            id=self.message_id,
            model=self.entry.id,
            content=content,
            stop_reason=outcome.stop_reason if outcome else None,
            stop_sequence=outcome.stop_sequence if outcome else None,
            diagnostics=self.diagnostics,
            usage=self.usage(outcome.output_tokens if outcome else 0),
        )

    def generate_request(self) -> GenerateRequest:
        params = self.params
        return GenerateRequest(
            prompt=self.prompt,
            max_tokens=params.max_tokens,
            sampling=Sampling(
                temperature=1.0 if params.temperature is None else params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
            ),
            tenant=self.principal.workspace_id,
            pins=self.plan.pins(),
            keep_warm=IDLE_SECONDS if params.thread is not None else 0.0,
            answer=self.policy.answer(params),
            tool_call=self.policy.tool_call(),
            regions=self.regions,
            priority=self.priority,
        )
