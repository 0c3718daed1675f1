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


class ToolChangeParam(WireModel):
    """What a `tool_addition`/`tool_removal` names: `tool_reference` (a tool by name) or
    `tool_definition` (a `tools` entry in `definition`); the MCP kinds are refused."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = None
    definition: dict[str, Any] | None = None


class ToolAdditionBlockParam(WireModel):
    type: Literal["tool_addition"]
    tool: ToolChangeParam
    cache_control: CacheControlEphemeral | None = None


class ToolRemovalBlockParam(WireModel):
    type: Literal["tool_removal"]
    tool: ToolChangeParam
    cache_control: CacheControlEphemeral | None = None


class CompactionBlockParam(WireModel):
    """A summary an earlier `compaction` request returned; `content` None is a failed one."""

    type: Literal["compaction"]
    content: str | None = None
    encrypted_content: str | None = None
    signature: str | None = None
    tool_changes: list[dict[str, Any]] | None = None
    cache_control: CacheControlEphemeral | None = None


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
    "tool_addition",
    "tool_removal",
    "compaction",
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
    | Annotated[ToolAdditionBlockParam, Tag("block:tool_addition")]
    | Annotated[ToolRemovalBlockParam, Tag("block:tool_removal")]
    | Annotated[CompactionBlockParam, Tag("block:compaction")]
    | Annotated[OtherBlockParam, Tag("block:other")],
    Discriminator(_block_tag),
]
