"""Message Batches on the wire, named as the SDK names them (`types/messages/*`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from parley.wire.common import StrictWireModel
from parley.wire.messages import MessageCreateParams

# The batch-level rules the service checks (each request's own params are checked when it runs).
CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
MAX_REQUESTS = 100_000


class MessageBatchRequestParam(StrictWireModel):
    custom_id: str = Field(pattern=CUSTOM_ID_PATTERN)
    params: MessageCreateParams


class MessageBatchCreateParams(StrictWireModel):
    """The body of `POST /v1/messages/batches`, as the description tells it."""

    requests: list[MessageBatchRequestParam] = Field(min_length=1, max_length=MAX_REQUESTS)


class MessageBatchRequestCounts(BaseModel):
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int


class MessageBatch(BaseModel):
    id: str
    type: Literal["message_batch"] = "message_batch"
    processing_status: Literal["in_progress", "canceling", "ended"]
    request_counts: MessageBatchRequestCounts
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None


class MessageBatchPage(BaseModel):
    data: list[MessageBatch]
    has_more: bool
    first_id: str | None
    last_id: str | None


class DeletedMessageBatch(BaseModel):
    id: str
    type: Literal["message_batch_deleted"] = "message_batch_deleted"
