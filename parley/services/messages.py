"""The Messages pipeline (DESIGN.md): authenticate -> validate -> resolve -> render -> admit
-> generate -> usage -> respond. Each step is one call; the HTTP edge only translates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from parley.domain.catalog import Catalog, ModelEntry, check_max_tokens
from parley.domain.ids import message_id
from parley.domain.ports import Engine, EngineStream, GenerateRequest, Principal, Sampling
from parley.domain.prompt import ModelAbilities, build_conversation
from parley.errors import InternalServerError, InvalidRequestError, ParleyError
from parley.services.generation import Outcome, run_generation
from parley.services.validation import check_features, check_version_fields
from parley.wire.errors import ErrorObject
from parley.wire.messages import (
    CountTokensParams,
    Message,
    MessageCreateParams,
    TextBlock,
    Usage,
)
from parley.wire.stream import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    StreamEvent,
    TextDelta,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedMessage:
    """A validated request, rendered to tokens, ready to generate."""

    params: MessageCreateParams
    entry: ModelEntry
    engine: Engine
    prompt: list[int]
    principal: Principal
    message_id: str

    def usage(self, output_tokens: int) -> Usage:
        return Usage(input_tokens=len(self.prompt), output_tokens=output_tokens)

    def message(self, content: list[TextBlock], outcome: Outcome | None) -> Message:
        return Message(
            id=self.message_id,
            model=self.entry.id,
            content=content,
            stop_reason=outcome.stop_reason if outcome else None,
            stop_sequence=outcome.stop_sequence if outcome else None,
            usage=self.usage(outcome.output_tokens if outcome else 0),
        )


class MessagesService:
    def __init__(self, catalog: Catalog, engines: Mapping[str, Engine]) -> None:
        self._catalog = catalog
        self._engines = engines

    def _render(self, params: CountTokensParams) -> tuple[ModelEntry, Engine, list[int]]:
        entry = self._catalog.resolve_for_inference(params.model)
        check_features(params, entry)
        conversation = build_conversation(
            params.system, params.messages, ModelAbilities(image_input=entry.image_input)
        )
        engine = self._engines[entry.id]
        prompt = engine.render(conversation)
        if len(prompt) > engine.context_window:
            raise InvalidRequestError(
                f"prompt is too long: {len(prompt)} tokens > {engine.context_window} maximum"
            )
        return entry, engine, prompt

    def count_tokens(self, params: CountTokensParams, version: str | None) -> int:
        check_version_fields(params, version)
        return len(self._render(params)[2])

    def prepare(
        self, params: MessageCreateParams, principal: Principal, version: str | None
    ) -> PreparedMessage:
        check_version_fields(params, version)
        entry, engine, prompt = self._render(params)
        check_max_tokens(entry, params.max_tokens)
        return PreparedMessage(params, entry, engine, prompt, principal, message_id())

    def _request(self, prepared: PreparedMessage) -> GenerateRequest:
        params = prepared.params
        sampling = Sampling(
            temperature=1.0 if params.temperature is None else params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
        )
        return GenerateRequest(
            prompt=prepared.prompt,
            max_tokens=params.max_tokens,
            sampling=sampling,
            tenant=prepared.principal.workspace_id,
        )

    def start(self, prepared: PreparedMessage) -> EngineStream | None:
        """Queues the generation now, so a full engine is a 529 before any header is sent.
        None for `max_tokens: 0` (a cache pre-warm generates nothing)."""
        if prepared.params.max_tokens == 0:
            return None
        return prepared.engine.generate(self._request(prepared))

    async def _pieces(
        self, prepared: PreparedMessage, events: EngineStream | None
    ) -> AsyncIterator[str | Outcome]:
        if events is None:
            yield Outcome("max_tokens", None, 0)
            return
        async for piece in run_generation(events, prepared.params.stop_sequences or []):
            yield piece

    async def create(self, prepared: PreparedMessage, events: EngineStream | None) -> Message:
        texts: list[str] = []
        outcome: Outcome | None = None
        try:
            async for piece in self._pieces(prepared, events):
                if isinstance(piece, Outcome):
                    outcome = piece
                else:
                    texts.append(piece)
        finally:
            if events is not None:
                await events.aclose()
        if outcome is None:
            raise InternalServerError("generation ended without an outcome")
        content = [] if prepared.params.max_tokens == 0 else [TextBlock(text="".join(texts))]
        return prepared.message(content, outcome)

    async def stream(
        self, prepared: PreparedMessage, events: EngineStream | None, request_id: str
    ) -> AsyncIterator[StreamEvent]:
        """The contract's event order; an error after the start travels as an `error` event."""
        yield MessageStartEvent(message=prepared.message([], None))
        block_open = False
        try:
            async for piece in self._pieces(prepared, events):
                if not block_open and not (
                    isinstance(piece, Outcome) and prepared.params.max_tokens == 0
                ):
                    block_open = True
                    yield ContentBlockStartEvent(index=0, content_block=TextBlock(text=""))
                    yield PingEvent()
                if isinstance(piece, Outcome):
                    if block_open:
                        yield ContentBlockStopEvent(index=0)
                    yield MessageDeltaEvent(
                        delta=MessageDelta(
                            stop_reason=piece.stop_reason, stop_sequence=piece.stop_sequence
                        ),
                        usage=MessageDeltaUsage(
                            input_tokens=len(prepared.prompt),
                            cache_creation_input_tokens=0,
                            cache_read_input_tokens=0,
                            output_tokens=piece.output_tokens,
                        ),
                    )
                    yield MessageStopEvent()
                    return
                yield ContentBlockDeltaEvent(index=0, delta=TextDelta(text=piece))
        except ParleyError as exc:
            yield ErrorEvent(error=_error_object(exc), request_id=request_id)
        except Exception:
            log.exception("generation failed mid-stream (request %s)", request_id)
            yield ErrorEvent(
                error=ErrorObject(type="api_error", message="Internal server error"),
                request_id=request_id,
            )
        finally:
            if events is not None:
                await events.aclose()  # also when the client went away mid-stream


def _error_object(exc: ParleyError) -> ErrorObject:
    return ErrorObject(type=exc.error_type, message=exc.message, details=exc.details or None)
