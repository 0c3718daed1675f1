"""Prompt caching for one request: breakpoints -> registry lookup -> CachePlan, the entries it
writes once the request is under way, and the diagnostics against an earlier message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parley.domain.caching import (
    Breakpoint,
    CachePlan,
    breakpoints,
    lookup_candidates,
    plan_cache,
    prefix_keys,
)
from parley.domain.diagnostics import cache_miss_reason, fingerprint
from parley.domain.ports import (
    CacheEntry,
    CacheRegistry,
    CacheScope,
    Clock,
    Fingerprints,
    RenderedPrompt,
)
from parley.domain.prompt import Conversation
from parley.wire.messages import CountTokensParams, MessageCreateParams


def request_breakpoints(params: CountTokensParams, conversation: Conversation) -> list[Breakpoint]:
    automatic = None
    if params.cache_control is not None:
        automatic = params.cache_control.ttl or "5m"
    return breakpoints(conversation.blocks, automatic)


def _salt(params: CountTokensParams) -> bytes:
    """What invalidates the cached messages without being part of their tokens."""
    settings = {
        "tool_choice": params.tool_choice.model_dump(mode="json") if params.tool_choice else None,
        "thinking": params.thinking.type if params.thinking else None,
    }
    return json.dumps(settings, sort_keys=True).encode()


@dataclass(frozen=True)
class CacheDecision:
    """The plan of one request and when it started (TTLs count from the start)."""

    scope: CacheScope
    plan: CachePlan
    started_at: float


class PromptCache:
    def __init__(self, registry: CacheRegistry, fingerprints: Fingerprints, clock: Clock):
        self._registry = registry
        self._fingerprints = fingerprints
        self._clock = clock

    async def plan(
        self,
        scope: CacheScope,
        params: MessageCreateParams,
        points: list[Breakpoint],
        conversation: Conversation,
        rendered: RenderedPrompt,
        min_tokens: int,
    ) -> CacheDecision:
        """`points`: the request's breakpoints (`request_breakpoints`)."""
        now = self._clock.now()
        total = len(rendered.tokens)
        known = [end for end in rendered.block_ends if end is not None]
        if not points or len(known) != len(rendered.block_ends):
            return CacheDecision(scope, CachePlan(uncached=total), now)
        first_message = next(
            (i for i, b in enumerate(conversation.blocks) if b.section == "messages"),
            len(known),
        )
        keys = prefix_keys(scope.key, rendered.tokens, known, first_message, _salt(params))
        live = await self._registry.live(scope, lookup_candidates(points, keys), now)
        plan = plan_cache(points, rendered.block_ends, keys, live, total, min_tokens)
        return CacheDecision(scope, plan, now)

    async def commit(self, decision: CacheDecision) -> None:
        """Called once the request is under way: from then on its entries can be read."""
        plan = decision.plan
        if plan.writes or plan.hit:
            await self._registry.record(decision.scope, plan.writes, plan.hit, decision.started_at)

    async def diagnose(
        self,
        scope: CacheScope,
        message_id: str,
        params: MessageCreateParams,
        conversation: Conversation,
        rendered: RenderedPrompt,
    ) -> dict[str, Any] | None:
        """Remembers this prompt's fingerprint, and compares it with the one of
        `diagnostics.previous_message_id` when the request asks."""
        current = fingerprint(
            scope.model,
            params.tools,
            params.system,
            params.messages,
            conversation.blocks,
            rendered.block_ends,
            len(rendered.tokens),
        )
        await self._fingerprints.remember(scope.workspace_id, message_id, current)
        previous_id = params.diagnostics.previous_message_id if params.diagnostics else None
        if previous_id is None:
            return None
        previous = await self._fingerprints.recall(scope.workspace_id, previous_id)
        return cache_miss_reason(previous, current)

    async def entries(self, organization_id: str) -> tuple[float, list[CacheEntry]]:
        """An organization's live entries, longest prefix first, and the time they were read."""
        now = self._clock.now()
        entries = await self._registry.entries(organization_id, now)
        return now, sorted(entries, key=lambda entry: (-entry.tokens, entry.expires_at))
