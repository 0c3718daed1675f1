"""Input content blocks of messages (user, assistant and system turns)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Tag

from parley.wire.common import CacheControlEphemeral, WireModel


class TextBlockParam(WireModel):
    type: Literal["text"]
    text: str
    cache_control: CacheControlEphemeral | None = None
    citations: list[dict[str, Any]] | None = None


class ImageBlockParam(WireModel):
    type: Literal["image"]
    source: dict[str, Any]
    cache_control: CacheControlEphemeral | None = None


class DocumentBlockParam(WireModel):
    type: Literal["document"]
    source: dict[str, Any]
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: CacheControlEphemeral | None = None


class ToolUseBlockParam(WireModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControlEphemeral | None = None


class ToolResultBlockParam(WireModel):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool | None = None
    cache_control: CacheControlEphemeral | None = None


class ThinkingBlockParam(WireModel):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlockParam(WireModel):
    type: Literal["redacted_thinking"]
    data: str


class OtherBlockParam(WireModel):
    """Server-tool and newer block types: accepted on the wire, refused by the service by name."""

    model_config = ConfigDict(extra="allow")
    type: str


_KNOWN_BLOCKS = {
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
}


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"block:{kind}" if kind in _KNOWN_BLOCKS else "block:other"


ContentBlockParam = Annotated[
    Annotated[TextBlockParam, Tag("block:text")]
    | Annotated[ImageBlockParam, Tag("block:image")]
    | Annotated[DocumentBlockParam, Tag("block:document")]
    | Annotated[ToolUseBlockParam, Tag("block:tool_use")]
    | Annotated[ToolResultBlockParam, Tag("block:tool_result")]
    | Annotated[ThinkingBlockParam, Tag("block:thinking")]
    | Annotated[RedactedThinkingBlockParam, Tag("block:redacted_thinking")]
    | Annotated[OtherBlockParam, Tag("block:other")],
    Discriminator(_block_tag),
]
