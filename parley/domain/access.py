"""What the access log says about one request: filled in by the layers that learn each part
(the edge its id, status and times; authentication the key; the Messages pipeline the model,
surface, region, tokens and first token), written once by the edge when the response ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.domain.ports import Principal


@dataclass
class AccessRecord:
    """`started`, `first_token_at`: monotonic seconds. `prompt`: makes the request's system
    and messages as sent, called only where the operator turned prompt logging on."""

    request_id: str
    method: str
    path: str
    started: float
    principal: Principal | None = None
    surface: str | None = None
    region: str | None = None
    model: str | None = None
    status: int | None = None
    error_type: str | None = None
    input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens: int | None = None
    first_token_at: float | None = None
    prompt: Callable[[], Any] | None = None

    def fields(self, ended: float, *, with_prompt: bool = False) -> dict[str, Any]:
        """The log line's fields, in their order; durations in milliseconds."""
        principal = self.principal
        fields: dict[str, Any] = {
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "error_type": self.error_type,
            "organization_id": principal.organization_id if principal else None,
            "workspace_id": principal.workspace_id if principal else None,
            "key_id": principal.key_id if principal else None,
            "surface": self.surface,
            "region": self.region,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
            "ttft_ms": self.ttft_ms,
            "total_ms": round((ended - self.started) * 1000, 1),
        }
        if with_prompt and self.prompt is not None:
            fields["prompt"] = self.prompt()
        return fields

    @property
    def ttft_ms(self) -> float | None:
        if self.first_token_at is None:
            return None
        return round((self.first_token_at - self.started) * 1000, 1)
