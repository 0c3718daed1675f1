"""`POST /v1/messages`: the request body and the Message it returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from parley.wire.common import CacheControlEphemeral, StrictWireModel, WireModel
from parley.wire.content import ContentBlockParam, TextBlockParam

Role = Literal["user", "assistant", "system", "ctx", "msg"]
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
    "compaction",
]


class SystemMessageOutputConfigParam(WireModel):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None


class MessageParam(WireModel):
    """`clear_at` and `output_config` belong to `role: "system"` messages only."""

    role: Role
    content: str | list[ContentBlockParam]
    clear_at: Literal["next_user_message", "never"] | None = None
    output_config: SystemMessageOutputConfigParam | None = None


class MetadataParam(WireModel):
    user_id: str | None = None


class ToolParam(WireModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    type: str | None = None
    cache_control: CacheControlEphemeral | None = None
    strict: bool | None = None


class ToolChoiceParam(WireModel):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class ThinkingConfigParam(WireModel):
    type: Literal["enabled", "adaptive", "disabled", "between_tools"]
    budget_tokens: int | None = None
    display: Literal["summarized", "omitted"] | None = None


class JSONOutputFormatParam(WireModel):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class TaskBudgetParam(WireModel):
    type: Literal["tokens"]
    total: int = Field(gt=0)
    remaining: int | None = Field(default=None, ge=0)


class OutputConfigParam(WireModel):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JSONOutputFormatParam | None = None
    task_budget: TaskBudgetParam | None = None


class ThreadParam(StrictWireModel):
    """`create` starts a thread; `continue` sends only the messages after the reply
    `previous_message_id` (services/threads.py)."""

    type: Literal["create", "continue"]
    previous_message_id: str | None = None


class BillingPolicyParam(StrictWireModel):
    type: Literal["billing_policy"]
    bill_to: Literal["self", "user_profile"] | None = None


class CompactionParam(StrictWireModel):
    type: Literal["summarize"]
    instructions: str | None = None


class FallbackParam(StrictWireModel):
    model: str
    max_tokens: int | None = None
    thinking: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    speed: Literal["standard", "fast"] | None = None


class FallbackCreditTokenParam(StrictWireModel):
    token: str
    mode: Literal["strict", "best_effort"] | None = None


class DiagnosticsParam(WireModel):
    previous_message_id: str | None = None


class CountTokensParams(StrictWireModel):
    """The fields shared by create and count_tokens."""

    model: str
    messages: list[MessageParam]
    system: str | list[TextBlockParam] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingConfigParam | None = None
    cache_control: CacheControlEphemeral | None = None
    output_config: OutputConfigParam | None = None
    speed: Literal["standard", "fast"] | None = None
    context_management: dict[str, Any] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    output_format: JSONOutputFormatParam | None = None  # the older spelling of output_config
    billing_policy: BillingPolicyParam | None = None  # count_tokens ignores it
    compaction: CompactionParam | None = None  # count_tokens ignores it


class MessageCreateParams(CountTokensParams):
    max_tokens: int = Field(ge=0)
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    metadata: MetadataParam | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    inference_geo: str | None = None
    diagnostics: DiagnosticsParam | None = None
    container: str | dict[str, Any] | None = None
    thread: ThreadParam | None = None
    fallbacks: list[FallbackParam] | Literal["default"] | None = None
    fallback_credit_token: str | FallbackCreditTokenParam | None = None


SAMPLING_FIELDS = ("temperature", "top_p", "top_k")


class TextBlock(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


class CompactionBlock(BaseModel):
    """The summary a `compaction` request returns, alone; sent back first in `messages`."""

    type: Literal["compaction"] = "compaction"
    content: str | None


ContentBlock = TextBlock | ToolUseBlock | CompactionBlock


class CacheCreation(BaseModel):
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class FallbackCreditStatus(BaseModel):
    type: Literal["not_applied"] = "not_applied"
    reason: Literal["not_enabled"] = "not_enabled"


class FallbackCredit(BaseModel):
    """Parley mints no fallback credit tokens, so one sent `best_effort` is never applied."""

    status: FallbackCreditStatus = Field(default_factory=FallbackCreditStatus)


class Usage(BaseModel):
    input_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: CacheCreation = Field(default_factory=CacheCreation)
    output_tokens: int
    service_tier: Literal["standard", "priority", "batch"] = "standard"
    inference_geo: str = "not_available"
    fallback_credit: FallbackCredit | None = None


class Diagnostics(BaseModel):
    cache_miss_reason: dict[str, Any] | None = None


class Message(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    diagnostics: Diagnostics | None = None
    usage: Usage


class MessageTokensCount(BaseModel):
    input_tokens: int
