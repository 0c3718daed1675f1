"""The error envelope: `{"type": "error", "error": {...}, "request_id": ...}`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class ErrorObject(BaseModel):
    type: str
    message: str
    details: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    type: Literal["error"] = "error"
    error: ErrorObject
    request_id: str | None = None


class VertexErrorStatus(BaseModel):
    code: int
    message: str
    status: str


class VertexErrorResponse(BaseModel):
    """An error on the Vertex AI surface, in Google's shape."""

    error: VertexErrorStatus


class BedrockErrorResponse(BaseModel):
    """An error on the Bedrock surface (its type travels in `x-amzn-ErrorType`)."""

    message: str
