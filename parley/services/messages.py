"""The Messages pipeline (DESIGN.md), one step per call: authenticate (at the edge) ->
open the thread -> validate -> resolve and render -> plan the cache -> admit against limits ->
generate -> usage, price and ledger -> keep the thread's reply -> settle -> respond. Every
surface (first-party, Vertex, Bedrock) and the batch worker go through `admit`, then `create`
or `stream`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace

from parley.domain.access import AccessRecord
from parley.domain.billing import BillingContext
from parley.domain.catalog import Catalog, check_max_tokens
from parley.domain.ids import message_id
from parley.domain.ports import CacheScope, Engine, EngineStream, Principal
from parley.domain.regions import RegionMap
from parley.errors import InternalServerError, OverloadedError
from parley.services.assembly import assembler_for
from parley.services.auth import require_workspace_key
from parley.services.caching import PromptCache
from parley.services.compaction import compacted, compaction_events, summarize_call
from parley.services.events import StreamSequencer
from parley.services.generation import Outcome, Progress, run_generation
from parley.services.limits import Demand, Gate, RateLimits
from parley.services.metering import Meter
from parley.services.prepared import PreparedMessage
from parley.services.rendering import Renderer
from parley.services.threads import Threads, ThreadTurn
from parley.services.validation import check_prewarm, check_version_fields, resolve_output_format
from parley.wire.messages import CountTokensParams, Diagnostics, Message, MessageCreateParams
from parley.wire.stream import StreamEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admitted:
    """A request the engine has queued: all the edge needs to answer it."""

    prepared: PreparedMessage
    events: EngineStream
    thread: ThreadTurn | None = None
    trace: AccessRecord | None = None

    @property
    def headers(self) -> dict[str, str]:
        return self.prepared.ticket.headers


class MessagesService:
    def __init__(
        self,
        catalog: Catalog,
        engines: Mapping[str, Engine],
        prompt_cache: PromptCache,
        limits: RateLimits,
        meter: Meter,
        *,
        quotas: Gate,
        regions: RegionMap,
        threads: Threads,
    ) -> None:
        """`limits`: the first-party tiers, caps and buckets; `quotas`: the partner surfaces'
        own; `regions`: where each request may run; `threads`: the replies held for threads."""
        self._renderer = Renderer(catalog, engines)
        self._cache = prompt_cache
        self._limits = limits
        self._quotas = quotas
        self._regions = regions
        self._meter = meter
        self._threads = threads
        self._closing: set[asyncio.Task[None]] = set()

    def _gate(self, billing: BillingContext) -> Gate:
        """First-party limits on the first-party API; each partner surface its quotas."""
        return self._limits if billing.surface == "claude_api" else self._quotas

    async def count_tokens(
        self,
        params: CountTokensParams,
        version: str | None,
        billing: BillingContext | None = None,
    ) -> int:
        """The whole prompt: what a create's three input counts add up to. Never caches.
        With `billing`, a region that does not exist or serve the model is a 404 here too."""
        check_version_fields(params, version)
        params = resolve_output_format(params)
        rendered = await self._renderer.render(params, block_ends=False)
        if billing is not None:
            self._regions.place(region=billing.region, geo=billing.geo, model=rendered.entry.id)
        return len(rendered.prompt.tokens)

    async def admit(
        self,
        params: MessageCreateParams,
        principal: Principal,
        *,
        version: str | None,
        request_id: str,
        billing: BillingContext | None = None,
        priority: int = 0,
        fixed_id: str | None = None,
        trace: AccessRecord | None = None,
    ) -> Admitted:
        """Every refusal (400, 403, 404, 429, 529) comes from here, before any response header.
        `priority`: the engine's (GenerateRequest.priority); `fixed_id`: the message id, for
        a request that may run again (a batch request rerun after a crash) under one id;
        `trace`: the request's access-log record, filled in as the pipeline learns each part."""
        asked = billing or BillingContext.first_party(params.inference_geo)
        thread = await self._threads.open(params, principal, asked.surface)
        try:
            params = params if thread is None else thread.params
            admitted = await self._admit(
                params,
                principal,
                version,
                request_id,
                asked,
                priority=priority,
                fixed_id=fixed_id,
                trace=trace,
            )
        except BaseException:
            await self._threads.abandon(thread)
            raise
        return replace(admitted, thread=thread)

    async def _admit(
        self,
        params: MessageCreateParams,
        principal: Principal,
        version: str | None,
        request_id: str,
        asked: BillingContext,
        *,
        priority: int,
        fixed_id: str | None,
        trace: AccessRecord | None,
    ) -> Admitted:
        """Every refusal (400, 403, 404, 429, 529) comes from here, before any response header."""
        require_workspace_key(principal)
        started_at = self._meter.now()
        check_version_fields(params, version)
        params = resolve_output_format(params)
        if params.compaction is not None:
            params = summarize_call(params)
        check_prewarm(params)
        entry, engine = self._renderer.engine_for(params.model)
        if trace is not None:
            trace.model, trace.surface, trace.region = entry.id, asked.surface, asked.region
            trace.prompt = lambda: params.model_dump(
                mode="json", include={"system", "messages"}, exclude_none=True
            )
        engine.check_room(priority)  # a full engine refuses before the work of rendering
        rendered = await self._renderer.render(params)
        check_max_tokens(rendered.entry, params.max_tokens)
        placement = self._regions.place(region=asked.region, geo=asked.geo, model=rendered.entry.id)
        billing = replace(asked, geo=placement.geo)
        scope = CacheScope(principal.organization_id, principal.workspace_id, rendered.entry.id)
        cache = await self._cache.plan(
            scope,
            params,
            rendered.breakpoints,
            rendered.conversation,
            rendered.prompt,
            rendered.entry.min_cache_tokens,
        )
        demand = Demand.of(rendered.entry, cache.plan, params.max_tokens, billing)
        ticket = await self._gate(billing).admit(principal, demand)
        new_id = fixed_id or message_id()
        reason = await self._cache.diagnose(
            scope, new_id, params, rendered.conversation, rendered.prompt
        )
        diagnostics = None if params.diagnostics is None else Diagnostics(cache_miss_reason=reason)
        prepared = PreparedMessage(
            params=params,
            entry=rendered.entry,
            engine=rendered.engine,
            prompt=rendered.prompt.tokens,
            prefill=rendered.conversation.prefill,
            policy=rendered.policy,
            principal=principal,
            billing=billing,
            regions=placement.regions,
            message_id=new_id,
            request_id=request_id,
            started_at=started_at,
            cache=cache,
            ticket=ticket,
            diagnostics=diagnostics,
            priority=priority,
        )
        return Admitted(prepared, await self._start(prepared), trace=trace)

    async def _start(self, prepared: PreparedMessage) -> EngineStream:
        """Queues the generation now, so a full engine is a 529 before any header is sent;
        from then on the request's cache entries exist. `max_tokens: 0` (a pre-warm) computes
        the prompt into the cache and generates nothing."""
        try:
            events = prepared.engine.generate(prepared.generate_request())
        except OverloadedError:
            try:
                await self._gate(prepared.billing).refund(prepared.ticket)  # a 529 uses no limit
            except Exception:  # the 529 is still the answer
                log.exception(
                    "request %s: could not refund its rate limits",
                    prepared.request_id,
                    extra={"request_id": prepared.request_id},
                )
            raise
        await self._cache.commit(prepared.cache)
        return events

    async def create(self, admitted: Admitted) -> Message:
        prepared = admitted.prepared
        assembler = assembler_for(prepared.policy, prepared.prefill)
        outcome: Outcome | None = None
        progress = Progress()
        kept = False
        try:
            async for piece in self._pieces(admitted, progress):
                if isinstance(piece, Outcome):
                    outcome = piece
                    await self._bill(prepared, outcome.output_tokens)
                else:
                    for _ in assembler.feed(piece):
                        pass  # a JSON answer needs only the final blocks
            if outcome is None:
                raise InternalServerError("generation ended without an outcome")
            _, content, called = assembler.finish(outcome.stop_reason == "end_turn")
            outcome = outcome.with_tool_use(called)
            if prepared.params.max_tokens == 0:
                content = []
            if prepared.params.compaction is not None:
                summary, outcome = compacted(content, outcome)
                content = [summary]
            message = prepared.message(content, outcome)
            await self._threads.keep(admitted.thread, message)
            kept = True
            return message
        finally:
            await self._finish(admitted, progress, billed=outcome is not None, kept=kept)

    async def stream(self, admitted: Admitted) -> AsyncIterator[StreamEvent]:
        prepared = admitted.prepared
        sequencer = StreamSequencer(prepared)
        yield sequencer.start()
        assembler = assembler_for(prepared.policy, prepared.prefill)
        progress = Progress()
        billed = kept = False
        summarizing = prepared.params.compaction is not None  # one block, once it is whole
        try:
            async for piece in self._pieces(admitted, progress):
                if not isinstance(piece, Outcome):
                    blocks = assembler.feed(piece)
                    if summarizing:
                        list(blocks)  # the summary streams as one block at the end
                        continue
                    for event in sequencer.blocks(blocks):
                        yield event
                    continue
                rest, content, called = assembler.finish(piece.stop_reason == "end_turn")
                outcome = piece.with_tool_use(called)
                if summarizing:
                    summary, outcome = compacted(content, outcome)
                    rest, content = compaction_events(summary), [summary]
                for event in sequencer.blocks(rest):
                    yield event
                yield sequencer.delta(outcome)
                await self._bill(prepared, outcome.output_tokens)
                billed = True
                await self._threads.keep(admitted.thread, prepared.message(content, outcome))
                kept = True
                yield sequencer.stop()
                return
        except Exception as exc:
            failed = sequencer.error(exc)
            if admitted.trace is not None:
                admitted.trace.error_type = failed.error.type
            yield failed
        finally:
            await self._finish(admitted, progress, billed, kept)  # also when the client left

    def _pieces(self, admitted: Admitted, progress: Progress) -> AsyncIterator[str | Outcome]:
        stops = admitted.prepared.params.stop_sequences or []
        return run_generation(admitted.events, stops, progress)

    async def _bill(self, prepared: PreparedMessage, output_tokens: int) -> None:
        """Appends the request to the ledger (durably: this returns after the commit)."""
        await self._meter.record(
            request_id=prepared.request_id,
            message_id=prepared.message_id,
            principal=prepared.principal,
            model=prepared.entry.id,
            usage=prepared.usage(output_tokens),
            billing=prepared.billing,
            started_at=prepared.started_at,
        )

    async def _finish(
        self, admitted: Admitted, progress: Progress, billed: bool, kept: bool
    ) -> None:
        """Shielded: a client that goes away cancels the request's task, but its settling
        and billing still run to the end."""
        task = asyncio.ensure_future(self._close(admitted, progress, billed, kept))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        await asyncio.shield(task)

    async def _close(
        self, admitted: Admitted, progress: Progress, billed: bool, kept: bool
    ) -> None:
        """Runs however the request ended: stops generating, settles the output tokens, and
        bills a request that ended early (the client left) for what it generated; one that
        failed before generating anything is not billed. A threaded reply that did not
        complete is not stored, and the reply it continued can be continued again."""
        prepared = admitted.prepared
        await admitted.events.aclose()
        if not kept:
            await self._threads.abandon(admitted.thread)
        if admitted.trace is not None:
            _trace_usage(admitted.trace, prepared, progress)
        try:
            await self._gate(prepared.billing).settle(prepared.ticket, progress.output_tokens)
        except Exception:  # e.g. Redis away: a late correction is lost, never the answer
            log.exception(
                "request %s: could not settle its rate limits",
                prepared.request_id,
                extra={"request_id": prepared.request_id},
            )
        if not billed and progress.output_tokens > 0:
            await self._bill(prepared, progress.output_tokens)


def _trace_usage(trace: AccessRecord, prepared: PreparedMessage, progress: Progress) -> None:
    usage = prepared.usage(progress.output_tokens)
    trace.input_tokens = usage.input_tokens
    trace.cache_creation_input_tokens = usage.cache_creation_input_tokens
    trace.cache_read_input_tokens = usage.cache_read_input_tokens
    trace.output_tokens = usage.output_tokens
    trace.first_token_at = progress.first_token_at
