"""Step 2 of the pipeline for a request with `thread`: a `continue` claims the stored reply
it names and becomes the whole request again (the thread's system, tools and messages, then
the new ones); once the reply is complete it is stored for the next continue. Every refusal
carries the `error.details.error_code` the SDK's replay and fallback paths key on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from parley.domain.ports import Clock, Principal, ThreadStore
from parley.domain.threads import ThreadRecord, without_cache_control
from parley.errors import InvalidRequestError, NotFoundError
from parley.wire.content import TextBlockParam
from parley.wire.messages import Message, MessageCreateParams, MessageParam, ToolParam

_SYSTEM = TypeAdapter(str | list[TextBlockParam] | None)
_TOOLS = TypeAdapter(list[ToolParam] | None)
_MESSAGES = TypeAdapter(list[MessageParam])


@dataclass(frozen=True)
class ThreadTurn:
    """A threaded request under way: `params` is the whole request; `claimed` the key of the
    reply it continues (None for a create)."""

    params: MessageCreateParams
    workspace_id: str
    started_at: float
    claimed: str | None


def unsupported(reason: str, features: Sequence[str]) -> InvalidRequestError:
    """The SDK's tool runner drops `thread` for this and every later turn on this code."""
    return InvalidRequestError(
        f"thread: {reason}",
        error_code="thread_unsupported_request",
        details={"unsupported": list(features)},
    )


def _json(adapter: TypeAdapter[Any], value: Any) -> Any:
    return without_cache_control(
        adapter.dump_python(value, mode="json", by_alias=True, exclude_none=True)
    )


class Threads:
    def __init__(self, store: ThreadStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def open(
        self, params: MessageCreateParams, principal: Principal, surface: str
    ) -> ThreadTurn | None:
        thread = params.thread
        if thread is None:
            return None
        if surface != "claude_api":
            raise unsupported(f"threads are not offered on the {surface} surface", ["surface"])
        if params.max_tokens == 0:
            raise unsupported("a cache pre-warm (max_tokens: 0) cannot be threaded", [])
        now = self._clock.now()
        workspace = principal.workspace_id
        if thread.type == "create":
            if thread.previous_message_id is not None:
                raise InvalidRequestError(
                    "thread.previous_message_id: only a continue names a previous message"
                )
            return ThreadTurn(params, workspace, now, None)
        if not thread.previous_message_id:
            raise InvalidRequestError("thread.previous_message_id: a continue must name one")
        key = f"{workspace}:{thread.previous_message_id}"
        record = await self._claim(key, thread.previous_message_id, now)
        try:
            whole = self._continued(params, record)
        except BaseException:
            await self._store.release(key, continued=False)
            raise
        return ThreadTurn(whole, workspace, record.started_at, key)

    async def _claim(self, key: str, message_id: str, now: float) -> ThreadRecord:
        claimed = await self._store.claim(key)
        if claimed == "continued":
            raise InvalidRequestError(
                f"thread: message {message_id} was already continued; each reply can be "
                "continued once",
                error_code="thread_already_continued",
            )
        if claimed == "in_flight":
            raise InvalidRequestError(
                f"thread: a continue of message {message_id} is already in flight",
                error_code="thread_continue_in_flight",
            )
        if claimed != "not_found" and claimed.expired(now):
            await self._store.release(key, continued=False)
            claimed = "not_found"
        if claimed == "not_found":
            raise NotFoundError(
                f"thread: no thread holds message {message_id} (it expired, was evicted or "
                "was never stored); send the whole conversation with a new create",
                error_code="thread_not_found",
            )
        return claimed

    def _continued(self, params: MessageCreateParams, record: ThreadRecord) -> MessageCreateParams:
        """The whole request a continue stands for; the thread's model, system and tools are
        fixed at its create."""
        differing = record.differing(
            params.model,
            _json(_SYSTEM, params.system),
            _json(_TOOLS, params.tools),
            params.model_fields_set,
        )
        if differing:
            raise InvalidRequestError(
                f"thread: {', '.join(differing)} cannot change on a thread (fixed at its "
                "create); start a new thread to change them",
                error_code="thread_fingerprint_mismatch",
            )
        held = _MESSAGES.validate_python(record.messages)
        return params.model_copy(
            update={
                "system": _SYSTEM.validate_python(record.system),
                "tools": _TOOLS.validate_python(record.tools),
                "messages": [*held, *params.messages],
            }
        )

    async def keep(self, turn: ThreadTurn | None, message: Message) -> None:
        """Stores a complete reply under its id, and marks the one it continued as used."""
        if turn is None:
            return
        now = self._clock.now()
        params = turn.params
        reply = {
            "role": "assistant",
            "content": [b.model_dump(mode="json") for b in message.content],
        }
        record = ThreadRecord(
            model=params.model,
            system=_json(_SYSTEM, params.system),
            tools=_json(_TOOLS, params.tools),
            messages=[*_json(_MESSAGES, params.messages), reply],
            started_at=turn.started_at,
            stored_at=now,
        )
        await self._store.put(f"{turn.workspace_id}:{message.id}", record, now)
        if turn.claimed is not None:
            await self._store.release(turn.claimed, continued=True)

    async def abandon(self, turn: ThreadTurn | None) -> None:
        """A continue that failed or was cut off: its reply can be continued again."""
        if turn is not None and turn.claimed is not None:
            await self._store.release(turn.claimed, continued=False)
