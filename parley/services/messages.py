"""The Messages pipeline (DESIGN.md): authenticate -> validate -> resolve -> render -> admit
-> generate -> usage -> respond. Each step is one call; the HTTP edge only translates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from parley.domain.caching import Breakpoint, CachePlan
from parley.domain.catalog import Catalog, ModelEntry, check_max_tokens
from parley.domain.ids import message_id
from parley.domain.ports import (
    CacheScope,
    Engine,
    EngineStream,
    GenerateRequest,
    JsonConstraint,
    Principal,
    RenderedPrompt,
    Sampling,
    ToolCallConstraint,
)
from parley.domain.prompt import Conversation, ModelAbilities, build_conversation
from parley.domain.tools import CALL_CLOSE, CALL_OPEN, forced_schema
from parley.errors import InternalServerError, InvalidRequestError, OverloadedError, ParleyError
from parley.services.assembly import Assembler, Mode
from parley.services.caching import CacheDecision, PromptCache, request_breakpoints
from parley.services.generation import Outcome, Progress, run_generation
from parley.services.limits import Demand, RateLimits, Ticket
from parley.services.metering import Meter
from parley.services.validation import check_features, check_prewarm, check_version_fields
from parley.wire.errors import ErrorObject
from parley.wire.messages import (
    CacheCreation,
    ContentBlock,
    CountTokensParams,
    Diagnostics,
    Message,
    MessageCreateParams,
    ToolParam,
    Usage,
)
from parley.wire.stream import (
    ContentBlockStartEvent,
    ErrorEvent,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    StreamEvent,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    entry: ModelEntry
    engine: Engine
    conversation: Conversation
    prompt: RenderedPrompt
    breakpoints: list[Breakpoint]


@dataclass(frozen=True)
class PreparedMessage:
    """A validated request, rendered to tokens, with its cache plan: ready to generate."""

    params: MessageCreateParams
    entry: ModelEntry
    engine: Engine
    prompt: list[int]
    principal: Principal
    message_id: str
    request_id: str
    started_at: datetime
    cache: CacheDecision
    ticket: Ticket
    diagnostics: Diagnostics | None = None
    prefill: str = ""

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


class MessagesService:
    def __init__(
        self,
        catalog: Catalog,
        engines: Mapping[str, Engine],
        prompt_cache: PromptCache,
        limits: RateLimits,
        meter: Meter,
    ) -> None:
        self._catalog = catalog
        self._engines = engines
        self._cache = prompt_cache
        self._limits = limits
        self._meter = meter
        self._closing: set[asyncio.Task[None]] = set()

    async def _render(self, params: CountTokensParams, *, block_ends: bool = True) -> Rendered:
        """Rendering and tokenizing run off the event loop (a 20,000-token prompt takes about
        30 ms), so the streams being served meanwhile do not stall."""
        entry = self._catalog.resolve_for_inference(params.model)
        check_features(params, entry)
        conversation = build_conversation(
            params.system,
            params.messages,
            ModelAbilities(image_input=entry.image_input),
            params.tools,
        )
        breakpoints = request_breakpoints(params, conversation)  # its 400s, also for counting
        engine = self._engines[entry.id]
        prompt = await asyncio.to_thread(engine.render, conversation, block_ends=block_ends)
        if len(prompt.tokens) > engine.context_window:
            raise InvalidRequestError(
                f"prompt is too long: {len(prompt.tokens)} tokens > {engine.context_window} maximum"
            )
        return Rendered(entry, engine, conversation, prompt, breakpoints)

    async def count_tokens(self, params: CountTokensParams, version: str | None) -> int:
        """The whole prompt: what a create's three input counts add up to. Never caches."""
        check_version_fields(params, version)
        return len((await self._render(params, block_ends=False)).prompt.tokens)

    async def prepare(
        self,
        params: MessageCreateParams,
        principal: Principal,
        version: str | None,
        request_id: str,
    ) -> PreparedMessage:
        started_at = self._meter.now()
        check_version_fields(params, version)
        check_prewarm(params)
        rendered = await self._render(params)
        entry = rendered.entry
        check_max_tokens(entry, params.max_tokens)
        scope = CacheScope(principal.organization_id, principal.workspace_id, entry.id)
        cache = await self._cache.plan(
            scope,
            params,
            rendered.breakpoints,
            rendered.conversation,
            rendered.prompt,
            entry.min_cache_tokens,
        )
        plan = cache.plan
        demand = Demand(
            entry.rate_class,
            plan.uncached,
            plan.written,
            plan.read,
            entry.cache_reads_count_itpm,
            params.max_tokens,
        )
        ticket = await self._limits.admit(principal, demand)  # 429 here, before any header
        new_id = message_id()
        reason = await self._cache.diagnose(
            scope, new_id, params, rendered.conversation, rendered.prompt
        )
        diagnostics = None
        if params.diagnostics is not None:
            diagnostics = Diagnostics(cache_miss_reason=reason)
        return PreparedMessage(
            params,
            entry,
            rendered.engine,
            rendered.prompt.tokens,
            principal,
            new_id,
            request_id,
            started_at,
            cache,
            ticket,
            diagnostics,
            rendered.conversation.prefill,
        )

    def _request(self, prepared: PreparedMessage) -> GenerateRequest:
        params = prepared.params
        sampling = Sampling(
            temperature=1.0 if params.temperature is None else params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
        )
        answer = None
        if params.output_config is not None and params.output_config.format is not None:
            schema = params.output_config.format.schema_
            answer = JsonConstraint(schema, "output_config.format.schema")
        mode = tool_mode(params)
        if mode == "forced":
            answer = JsonConstraint(forced_schema(forced_tools(params)), "tools")
        tool_call = None
        if mode == "auto":  # a call the model starts is finished under the tools' schema
            arguments = JsonConstraint(forced_schema(params.tools or []), "tools")
            tool_call = ToolCallConstraint(arguments, CALL_OPEN, CALL_CLOSE)
        return GenerateRequest(
            prompt=prepared.prompt,
            max_tokens=params.max_tokens,
            sampling=sampling,
            tenant=prepared.principal.workspace_id,
            pins=prepared.plan.pins(),
            answer=answer,
            tool_call=tool_call,
        )

    async def start(self, prepared: PreparedMessage) -> EngineStream:
        """Queues the generation now, so a full engine is a 529 before any header is sent;
        from then on the request's cache entries exist. `max_tokens: 0` (a pre-warm) computes
        the prompt into the cache and generates nothing."""
        try:
            events = prepared.engine.generate(self._request(prepared))
        except OverloadedError:
            await self._limits.refund(prepared.ticket)  # a 529 uses no rate limit
            raise
        await self._cache.commit(prepared.cache)
        return events

    async def _pieces(
        self, prepared: PreparedMessage, events: EngineStream, progress: Progress
    ) -> AsyncIterator[str | Outcome]:
        stops = prepared.params.stop_sequences or []
        async for piece in run_generation(events, stops, progress):
            yield piece

    async def _bill(self, prepared: PreparedMessage, output_tokens: int) -> None:
        """Appends the request to the ledger (durably: this returns after the commit)."""
        await self._meter.record(
            request_id=prepared.request_id,
            message_id=prepared.message_id,
            principal=prepared.principal,
            model=prepared.entry.id,
            usage=prepared.usage(output_tokens),
            region=prepared.params.inference_geo or "global",
            started_at=prepared.started_at,
        )

    async def _finish(
        self, prepared: PreparedMessage, events: EngineStream, progress: Progress, billed: bool
    ) -> None:
        """Shielded: a client that goes away cancels the request's task, but its settling
        and billing still run to the end."""
        task = asyncio.ensure_future(self._close(prepared, events, progress, billed))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        await asyncio.shield(task)

    async def _close(
        self, prepared: PreparedMessage, events: EngineStream, progress: Progress, billed: bool
    ) -> None:
        """Runs however the request ended: stops generating, settles the output tokens, and
        bills a request that ended early (the client left) for what it generated; one that
        failed before generating anything is not billed."""
        await events.aclose()
        await self._limits.settle(prepared.ticket, progress.output_tokens)
        if not billed and progress.output_tokens > 0:
            await self._bill(prepared, progress.output_tokens)

    async def create(self, prepared: PreparedMessage, events: EngineStream) -> Message:
        assembler = assembler_for(prepared.params, prepared.prefill)
        outcome: Outcome | None = None
        progress = Progress()
        try:
            async for piece in self._pieces(prepared, events, progress):
                if isinstance(piece, Outcome):
                    outcome = piece
                    await self._bill(prepared, outcome.output_tokens)
                else:
                    for _ in assembler.feed(piece):
                        pass  # a JSON answer needs only the final blocks
        finally:
            await self._finish(prepared, events, progress, billed=outcome is not None)
        if outcome is None:
            raise InternalServerError("generation ended without an outcome")
        _, content, called = assembler.finish(outcome.stop_reason == "end_turn")
        if prepared.params.max_tokens == 0:
            content = []
        return prepared.message(content, _with_tool_use(outcome, called))

    async def stream(
        self, prepared: PreparedMessage, events: EngineStream, request_id: str
    ) -> AsyncIterator[StreamEvent]:
        """The contract's event order; an error after the start travels as an `error` event."""
        yield MessageStartEvent(message=prepared.message([], None))
        assembler = assembler_for(prepared.params, prepared.prefill)
        pinged = False
        progress = Progress()
        billed = False
        try:
            async for piece in self._pieces(prepared, events, progress):
                if isinstance(piece, Outcome):
                    rest, _, called = assembler.finish(piece.stop_reason == "end_turn")
                    for event in rest:
                        yield event
                        if not pinged and isinstance(event, ContentBlockStartEvent):
                            pinged = True
                            yield PingEvent()  # after the first block starts, as hosted
                    outcome = _with_tool_use(piece, called)
                    yield MessageDeltaEvent(
                        delta=MessageDelta(
                            stop_reason=outcome.stop_reason, stop_sequence=outcome.stop_sequence
                        ),
                        usage=MessageDeltaUsage(
                            input_tokens=prepared.plan.uncached,
                            cache_creation_input_tokens=prepared.plan.written,
                            cache_read_input_tokens=prepared.plan.read,
                            output_tokens=outcome.output_tokens,
                        ),
                    )
                    await self._bill(prepared, outcome.output_tokens)  # before message_stop
                    billed = True
                    yield MessageStopEvent()
                    return
                for event in assembler.feed(piece):
                    yield event
                    if not pinged and isinstance(event, ContentBlockStartEvent):
                        pinged = True
                        yield PingEvent()  # after the first block starts, as hosted
        except ParleyError as exc:
            yield ErrorEvent(error=_error_object(exc), request_id=request_id)
        except Exception:
            log.exception("generation failed mid-stream (request %s)", request_id)
            yield ErrorEvent(
                error=ErrorObject(type="api_error", message="Internal server error"),
                request_id=request_id,
            )
        finally:
            await self._finish(prepared, events, progress, billed)  # also when the client left


def tool_mode(params: MessageCreateParams) -> Mode:
    choice = params.tool_choice
    if not params.tools or (choice is not None and choice.type == "none"):
        return "text"
    if choice is not None and choice.type in ("any", "tool"):
        return "forced"
    return "auto"


def forced_tools(params: MessageCreateParams) -> list[ToolParam]:
    tools = params.tools or []
    choice = params.tool_choice
    if choice is not None and choice.type == "tool":
        return [tool for tool in tools if tool.name == choice.name]
    return list(tools)


def assembler_for(params: MessageCreateParams, prefill: str) -> Assembler:
    choice = params.tool_choice
    parallel = not (choice is not None and choice.disable_parallel_tool_use)
    names = {tool.name for tool in params.tools or []}
    mode = tool_mode(params)
    opened = CALL_OPEN if mode == "auto" and prefill.endswith(CALL_OPEN) else ""
    return Assembler(mode, names, parallel, opened)


def _with_tool_use(outcome: Outcome, called: bool) -> Outcome:
    return replace(outcome, stop_reason="tool_use") if called else outcome


def _error_object(exc: ParleyError) -> ErrorObject:
    return ErrorObject(type=exc.error_type, message=exc.message, details=exc.details or None)
