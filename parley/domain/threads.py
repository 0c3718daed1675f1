"""Message threads (beta `message-threads-2026-08-12`): the rules of what a thread holds and
how long. A `create` stores the request's system, tools and messages with the reply under
the reply's id; a `continue` names that id and sends only the messages after it. Each stored
reply can be continued once; a thread lives 5 minutes past its last stored reply, and an hour
at most from its create."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

IDLE_SECONDS = 5 * 60.0
MAX_SECONDS = 60 * 60.0
PINNED_FIELDS = ("model", "system", "tools")

ClaimRefusal = Literal["not_found", "continued", "in_flight"]


@dataclass(frozen=True)
class ThreadRecord:
    """One stored reply and everything before it, as JSON values of the wire fields, with
    block `cache_control` markers removed (caching is asked per request, never inherited).
    `started_at`: when the thread was created; `stored_at`: when this reply was stored."""

    model: str
    system: Any
    tools: Any
    messages: list[dict[str, Any]]
    started_at: float
    stored_at: float

    def expired(self, now: float) -> bool:
        return now - self.stored_at > IDLE_SECONDS or now - self.started_at > MAX_SECONDS

    def expires_at(self) -> float:
        return min(self.stored_at + IDLE_SECONDS, self.started_at + MAX_SECONDS)

    def differing(self, model: str, system: Any, tools: Any, sent: set[str]) -> list[str]:
        """The pinned fields a continue changes: `model` always counts, `system` and `tools`
        only when the continue sends them again."""
        given = {"model": model, "system": system, "tools": tools}
        pinned = {"model": self.model, "system": self.system, "tools": self.tools}
        return [
            name
            for name in PINNED_FIELDS
            if (name == "model" or name in sent) and given[name] != pinned[name]
        ]

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ThreadRecord:
        return cls(**json.loads(data))


BLOCK_KEYS = ("content",)


def without_cache_control(value: Any) -> Any:
    """A copy of wire JSON (system, tools or messages) without the `cache_control` of any
    block; free-form values (a tool's `input`, an `input_schema`) are left as they are."""
    if isinstance(value, list):
        return [without_cache_control(item) for item in value]
    if isinstance(value, dict):
        return {
            key: without_cache_control(item) if key in BLOCK_KEYS else item
            for key, item in value.items()
            if key != "cache_control"
        }
    return value
