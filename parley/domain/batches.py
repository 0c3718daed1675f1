"""Message Batches: the records the batch queue keeps, the batch-level rules (what makes a
whole batch a 400 or a 413, as opposed to one request's `errored` result), and the
cache-aware order in which a batch's requests run."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from parley.domain.ids import new_id
from parley.errors import InvalidRequestError, RequestTooLargeError
from parley.wire.batches import CUSTOM_ID_PATTERN, MAX_REQUESTS

RequestState = Literal["processing", "succeeded", "errored", "canceled", "expired"]
ProcessingStatus = Literal["in_progress", "canceling", "ended"]
END_STATES: tuple[RequestState, ...] = ("succeeded", "errored", "canceled", "expired")
CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)


@dataclass(frozen=True, kw_only=True)
class BatchRecord:
    """A batch as stored. `counts` holds each end state's tally once the batch has ended
    (kept after its results are deleted); until then every request counts as processing."""

    id: str
    organization_id: str
    workspace_id: str
    api_key_id: str
    version: str | None
    total: int
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def processing_status(self) -> ProcessingStatus:
        if self.ended_at is not None:
            return "ended"
        return "in_progress" if self.cancel_initiated_at is None else "canceling"

    def request_counts(self) -> dict[str, int]:
        tally: dict[str, int] = {state: 0 for state in ("processing", *END_STATES)}
        if self.ended_at is None:
            tally["processing"] = self.total
        else:
            tally.update({state: self.counts.get(state, 0) for state in END_STATES})
        return tally


@dataclass(frozen=True, kw_only=True)
class NewRequest:
    """One request of a new batch. `leader_id`: the request of its group that runs first
    (None for a leader or a request alone); `rank` 0 runs before rank 1."""

    id: str
    custom_id: str
    seq: int
    params: str  # the JSON of its params, validated only when it runs
    leader_id: str | None = None
    rank: int = 0


@dataclass(frozen=True, kw_only=True)
class ClaimedRequest:
    """A request a worker holds a lease on, with what it needs to run it as its batch's
    owner."""

    id: str
    batch_id: str
    custom_id: str
    params: str
    organization_id: str
    workspace_id: str
    api_key_id: str
    version: str | None


@dataclass(frozen=True)
class ResultRow:
    custom_id: str
    state: RequestState
    result: str | None  # the stored result JSON (succeeded, errored); None otherwise

    def line(self) -> str:
        """One line of the results file."""
        result = self.result or json.dumps({"type": self.state})
        return f'{{"custom_id":{json.dumps(self.custom_id)},"result":{result}}}\n'


def batch_id() -> str:
    return new_id("msgbatch_")


def batch_message_id(request_id: str) -> str:
    """A batch request's Message id, the same every time it runs: a rerun after a crash
    answers the id its ledger row was billed under."""
    return "msg_" + request_id.removeprefix("batchreq_")


def check_requests(requests: Any) -> list[tuple[str, dict[str, Any]]]:
    """The batch-level rules; each request's own params are checked only when it runs."""
    if not isinstance(requests, list):
        raise InvalidRequestError("requests: Field required")
    if not requests:
        raise InvalidRequestError("requests: List should have at least 1 item after validation")
    if len(requests) > MAX_REQUESTS:
        raise RequestTooLargeError(
            f"requests: a batch may hold at most {MAX_REQUESTS} requests, got {len(requests)}"
        )
    checked: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for n, request in enumerate(requests):
        where = f"requests.{n}"
        if not isinstance(request, dict):
            raise InvalidRequestError(f"{where}: Input should be a valid dictionary")
        custom_id, params = request.get("custom_id"), request.get("params")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise InvalidRequestError(
                f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if custom_id in seen:
            raise InvalidRequestError(
                f"{where}.custom_id: Duplicate custom_id {custom_id!r}; "
                "each custom_id must be unique within a batch"
            )
        seen.add(custom_id)
        if not isinstance(params, dict):
            raise InvalidRequestError(f"{where}.params: Input should be a valid dictionary")
        _check_params(params, f"{where}.params")
        checked.append((custom_id, params))
    return checked


def _check_params(params: dict[str, Any], where: str) -> None:
    """What a batch refuses in any request: streaming, fast mode and pre-warming."""
    if params.get("stream") is True:
        raise InvalidRequestError(f"{where}.stream: Streaming is not supported in batches")
    if params.get("speed") is not None:
        raise InvalidRequestError(f"{where}.speed: `speed` is not supported in batches")
    if params.get("max_tokens") == 0:
        raise InvalidRequestError(
            f"{where}.max_tokens: `max_tokens: 0` (pre-warming) is not supported in batches"
        )


def prefix_key(params: Mapping[str, Any]) -> str:
    """Requests with the same key share a prompt prefix: the same model, tools and system,
    and the same conversation but for the last message's last block."""
    messages = params.get("messages")
    head: list[Any] = list(messages[:-1]) if isinstance(messages, list) and messages else []
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        last = messages[-1]
        content = last.get("content")
        if isinstance(content, list) and len(content) > 1:
            head.append({**last, "content": content[:-1]})
    shared = [params.get(k) for k in ("model", "tools", "tool_choice", "system")] + [head]
    if not head and params.get("system") is None and params.get("tools") is None:
        return ""  # nothing shared worth ordering for
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()


def new_requests(checked: Sequence[tuple[str, dict[str, Any]]]) -> list[NewRequest]:
    """The first request of each group of shared prefixes leads it: its siblings run only
    once it has ended, so the prefix is computed once and read by the rest."""
    leaders: dict[str, str] = {}
    made: list[NewRequest] = []
    for seq, (custom_id, params) in enumerate(checked):
        request_id = new_id("batchreq_")
        key = prefix_key(params)
        leader = leaders.get(key) if key else None
        if key and leader is None:
            leaders[key] = request_id
        made.append(
            NewRequest(
                id=request_id,
                custom_id=custom_id,
                seq=seq,
                params=json.dumps(params),
                leader_id=leader,
                rank=0 if leader is None else 1,
            )
        )
    return made
