"""RemoteEngine: `ports.Engine` over replicas of llama-server or vLLM. Parley renders and
tokenizes itself and sends token ids, so counting, usage, cache planning and limits are exact
to the token whatever runs the model; the servers only generate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from parley.domain.ports import (
    EndReason,
    EngineEvent,
    GenerateRequest,
    GenerationEnd,
    RenderedPrompt,
    TokenOut,
)
from parley.domain.prompt import Conversation
from parley.domain.tools import GENERIC, NATIVE, ToolFormat
from parley.engine.llama.prompting import PromptRenderer, Tokenizer
from parley.engine.llama.templates import ChosenTemplate, choose_template
from parley.engine.remote.replicas import ReplicaPool, ReplicaState
from parley.engine.remote.router import Choice, Router
from parley.engine.remote.wire import Chunk, Constraint, ServerWire
from parley.errors import InvalidRequestError, OverloadedError

NO_REPLICA = "the model's engine servers are all unavailable; try again shortly"


class ReplicaFailed(Exception):
    """A replica refused, timed out or broke off: it is taken out."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float


class RemoteEngine:
    def __init__(
        self,
        *,
        context_window: int,
        pool: ReplicaPool,
        router: Router,
        wire: ServerWire,
        model_id: str,
        chat_template: str | None,
        tokenizer: Tokenizer | None,
        server_tokenizer: Callable[[str], Tokenizer],
        timeouts: Timeouts,
        health_interval: float,
    ) -> None:
        """`tokenizer`: a GGUF's vocabulary; without one, `server_tokenizer(url)` makes one
        over a replica's HTTP tokenizer, on first use (the servers may still be starting)."""
        self.context_window = context_window
        self._model_id = model_id
        self._chat_template = chat_template
        self.pool = pool
        self._router = router
        self._wire = wire
        self._tokenizer = tokenizer
        self._server_tokenizer = server_tokenizer
        self._renderer: PromptRenderer | None = None
        self._chat: ChosenTemplate | None = None
        self._renderer_lock = threading.Lock()
        timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        self.client = httpx.AsyncClient(timeout=timeout, limits=limits)
        self._health = asyncio.get_running_loop().create_task(
            pool.watch(self.client, health_interval)
        )

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        return self.renderer().render(conversation, block_ends=block_ends)

    @property
    def tool_format(self) -> ToolFormat:
        """The chat format's own tool-call format, as the in-process engine picks it; it needs
        the vocabulary, so a server tokenizer is opened here on first use."""
        self.renderer()
        assert self._chat is not None
        return NATIVE.get(self._chat.format or "", GENERIC)

    def renderer(self) -> PromptRenderer:
        with self._renderer_lock:
            if self._renderer is None:
                tokenizer = self._tokenizer or self._open_server_tokenizer()
                self._chat = choose_template(
                    model_id=self._model_id,
                    setting=self._chat_template,
                    embedded=tokenizer.metadata("tokenizer.chat_template"),
                    architecture=tokenizer.metadata("general.architecture"),
                    is_special_token=lambda text: False,
                )
                self._renderer = PromptRenderer(tokenizer, self._chat.source)
            return self._renderer

    def _open_server_tokenizer(self) -> Tokenizer:
        for replica in self.pool.replicas:
            with contextlib.suppress(httpx.HTTPError):
                tokenizer: Tokenizer = self._server_tokenizer(replica.url)
                self._tokenizer = tokenizer
                return tokenizer
        raise OverloadedError(NO_REPLICA)

    def generate(self, request: GenerateRequest) -> RemoteStream:
        """Refuses with 529 when no replica takes requests, and with 400 a constraint the
        server cannot be sent, before anything is sent."""
        for constraint in constraints_of(request):
            self._wire.check(constraint)
        return RemoteStream(self, request, self.choose(request, frozenset()))

    def check_room(self, priority: int) -> None:
        """The servers keep their own queues; a refusal comes when a replica is chosen."""

    def choose(self, request: GenerateRequest, tried: frozenset[str]) -> Choice:
        candidates = self.pool.candidates(request.regions, tried)
        if not candidates:
            raise OverloadedError(NO_REPLICA)
        return self._router.choose(request, candidates)

    async def post(
        self, replica: ReplicaState, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The streamed JSON chunks of one request to one replica. ReplicaFailed for a
        refusal, a timeout, a broken stream or a server error; InvalidRequestError for what
        the server rejects as a bad request (no other replica would take it either)."""
        try:
            async with self.client.stream(
                "POST", f"{replica.url}{self._wire.path}", json=body
            ) as response:
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    detail = (await response.aread()).decode(errors="replace")[:500]
                    raise InvalidRequestError(f"the engine server refused the request: {detail}")
                if response.status_code != 200:
                    raise ReplicaFailed(f"{replica.url} answered {response.status_code}")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    data = json.loads(payload)
                    if "error" in data:
                        raise ReplicaFailed(f"{replica.url} failed: {data['error']}")
                    yield data
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise ReplicaFailed(f"{replica.url}: {exc!r}") from exc

    def wire(self) -> ServerWire:
        return self._wire

    async def close(self) -> None:
        self._health.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._health
        await self.client.aclose()
        close = getattr(self._tokenizer, "close", None)
        if close is not None:
            close()


def constraints_of(request: GenerateRequest) -> list[Constraint]:
    found = []
    if request.answer is not None:
        found.append(Constraint(request.answer))
    if request.tool_call is not None:
        found.append(Constraint(request.tool_call.arguments, request.tool_call.closing))
    return found


class RemoteStream:
    """One generation over HTTP. A replica that fails before any token is out, and the request
    goes to another; once tokens have been handed on, a failure ends the stream with a 529
    `overloaded_error` (an `error` event when streaming), and only what was generated is
    billed. A tool call begun under `auto` is finished by a second request on the same
    replica, continuing from the tokens so far under the call's grammar."""

    def __init__(self, engine: RemoteEngine, request: GenerateRequest, first: Choice) -> None:
        self._engine = engine
        self._request = request
        self._first: Choice | None = first
        engine.pool.begin(first.replica)
        self._events = self._run()

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self

    async def __anext__(self) -> EngineEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()
        if self._first is not None:  # never iterated
            self._engine.pool.end(self._first.replica)
            self._first = None

    async def _run(self) -> AsyncGenerator[EngineEvent, None]:
        tried: set[str] = set()
        produced = 0
        while True:
            if self._first is not None:
                choice, self._first = self._first, None
            else:
                choice = self._engine.choose(self._request, frozenset(tried))
                self._engine.pool.begin(choice.replica)
            try:
                async with contextlib.aclosing(self._generation(choice)) as events:
                    async for event in events:
                        produced += isinstance(event, TokenOut)
                        yield event
                return
            except ReplicaFailed as exc:
                self._engine.pool.fail(choice.replica)
                if produced:
                    raise OverloadedError("the engine server failed mid-generation") from exc
                tried.add(choice.replica.url)
            finally:
                self._engine.pool.end(choice.replica)

    async def _generation(self, choice: Choice) -> AsyncGenerator[EngineEvent, None]:
        request, wire = self._request, self._engine.wire()
        renderer = self._engine.renderer()
        room = self._engine.context_window - len(request.prompt)
        budget = max(0, min(request.max_tokens, room))
        output = _Output()
        call = request.tool_call
        constraint = None if request.answer is None else Constraint(request.answer)
        opening = call.opening.encode() if call else b""
        tail = b"".join(renderer.piece(t) for t in request.prompt[-len(opening) :]) if call else b""
        while True:
            if call is not None and tail.endswith(opening):
                constraint, call = Constraint(call.arguments, call.closing), None
            prompt = [*request.prompt, *await output.tokens(renderer)]
            body = wire.body(prompt, budget - output.count, request.sampling, constraint)
            switched = False
            last: Chunk | None = None
            reused = sent = 0
            async with contextlib.aclosing(self._engine.post(choice.replica, body)) as stream:
                async for data in stream:
                    chunk = wire.parse(data)
                    if chunk is None:
                        continue
                    reused = max(reused, chunk.reused)
                    last = chunk if chunk.finish else last
                    if request.max_tokens == 0:
                        continue
                    for token, piece in output.pieces(chunk, sent):
                        sent += 1
                        output.add(token, piece)
                        yield TokenOut(token, piece)
                        if call is not None:
                            tail = (tail + piece)[-len(opening) :]
                            switched = tail.endswith(opening)
                            if switched:
                                break
                    if switched:
                        break
            if switched:
                continue
            if last is None:
                raise ReplicaFailed(f"{choice.replica.url} ended the stream before finishing")
            if constraint is not None and constraint.closing and wire.appends_closing:
                for token in renderer.tokens_of(constraint.closing):
                    output.add(token, renderer.piece(token))
                    yield TokenOut(token, renderer.piece(token))
            self._engine.pool.reused(
                choice.replica, reused, whole_prefix=choice.prefix > 0 and reused >= choice.prefix
            )
            yield GenerationEnd(self._reason(last, output.count, budget), reused)
            return

    def _reason(self, last: Chunk, generated: int, budget: int) -> EndReason:
        """A server that stopped at the token budget stopped at max_tokens, or at the context
        window when that was the smaller bound."""
        asked = self._request.max_tokens
        if asked and last.finish == "eos" and generated < budget:
            return "end_of_generation"
        return "context_window" if budget < asked else "max_tokens"


class _Output:
    """What one generation has produced so far, across the requests that made it. A server
    may not report every token's id: llama-server's stream names only the last token of a
    chunk, so the ids of a character split over several tokens are missing; its running
    `tokens_predicted` still counts them, so they are handed on (id -1, no text) and counted,
    and a continuation re-tokenizes the text instead of sending ids."""

    def __init__(self) -> None:
        self.count = 0
        self._ids: list[int] = []
        self._text = b""
        self._ids_exact = True

    def add(self, token: int, piece: bytes) -> None:
        self.count += 1
        self._ids.append(token)
        self._text += piece
        self._ids_exact = self._ids_exact and token >= 0

    def pieces(self, chunk: Chunk, sent: int) -> list[tuple[int, bytes]]:
        """The chunk's tokens with their pieces (its text goes with its last token), after
        any the server counted but did not name; `sent`: tokens of this request so far."""
        missing = 0 if chunk.predicted is None else chunk.predicted - sent - len(chunk.tokens)
        tokens = [-1] * max(0, missing) + chunk.tokens
        pieces = [b""] * len(tokens)
        if pieces:
            pieces[-1] = chunk.text.encode()
        return list(zip(tokens, pieces, strict=True))

    async def tokens(self, renderer: PromptRenderer) -> list[int]:
        if self._ids_exact:
            return list(self._ids)
        text = self._text.decode(errors="replace")
        return await asyncio.to_thread(renderer.tokens_of, text)
