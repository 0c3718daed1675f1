"""Request checks that depend on the API version and on what the model can do."""

from __future__ import annotations

from typing import TypeVar

from parley.domain.catalog import ModelEntry
from parley.domain.schemas import check_schema
from parley.domain.tool_policy import ToolPolicy
from parley.domain.tools import GENERIC, ToolFormat
from parley.errors import InvalidRequestError, PermissionDeniedError
from parley.wire.content import TextBlockParam
from parley.wire.messages import (
    SAMPLING_FIELDS,
    CountTokensParams,
    FallbackCreditTokenParam,
    MessageCreateParams,
    OutputConfigParam,
)

P = TypeVar("P", bound=CountTokensParams)

API_VERSIONS = ("2023-06-01", "2026-10-21")
FIELDS_REMOVED_IN = "2026-10-21"


def check_version(version: str | None) -> None:
    if version is not None and version not in API_VERSIONS:
        raise InvalidRequestError(f'anthropic-version: "{version}" is not a valid version')


def check_version_fields(params: CountTokensParams, version: str | None) -> None:
    """Fields that API version 2026-10-21 removed (sampling parameters, citations in user text
    blocks) are a 400 there, worded as for any unknown field; older versions accept them."""
    if version != FIELDS_REMOVED_IN:
        return
    if isinstance(params, MessageCreateParams):
        for name in SAMPLING_FIELDS:
            if name in params.model_fields_set:
                raise InvalidRequestError(f"{name}: Extra inputs are not permitted")
    for index, message in enumerate(params.messages):
        if message.role != "user" or isinstance(message.content, str):
            continue
        for position, block in enumerate(message.content):
            if isinstance(block, TextBlockParam) and "citations" in block.model_fields_set:
                raise InvalidRequestError(
                    f"messages.{index}.content.{position}.citations: Extra inputs are not permitted"
                )


def check_features(
    params: CountTokensParams, entry: ModelEntry, tool_format: ToolFormat = GENERIC
) -> ToolPolicy:
    """Features this server or model cannot do are refused by name, never silently dropped.
    Returns the request's tool policy (in the model's `tool_format`), whose own 400s come in
    the contract's order."""
    if params.thinking is not None and params.thinking.type == "enabled" and not entry.thinking:
        raise InvalidRequestError(f'"thinking.type.enabled" is not supported for model {entry.id}')
    policy = ToolPolicy.of(params, tool_format)
    if params.output_config is not None and params.output_config.format is not None:
        check_schema(params.output_config.format.schema_, "output_config.format.schema")
    if params.mcp_servers:
        raise InvalidRequestError("mcp_servers: MCP connectors are not supported")
    if params.speed == "fast":
        raise InvalidRequestError(f"speed: fast mode is not supported for model {entry.id}")
    if isinstance(params, MessageCreateParams):
        if params.container is not None:
            raise InvalidRequestError("container: code execution containers are not supported")
        check_fallbacks(params, entry)
    if params.compaction is not None and params.context_management is not None:
        raise InvalidRequestError("compaction: cannot be combined with context_management")
    return policy


def resolve_output_format(params: P) -> P:
    """The top-level `output_format` is the older spelling of `output_config.format` (LiteLLM
    still sends it); both at once is a 400."""
    if params.output_format is None:
        return params
    config = params.output_config or OutputConfigParam()
    if config.format is not None:
        raise InvalidRequestError(
            "output_format: cannot be combined with output_config.format (use only the latter)"
        )
    merged = config.model_copy(update={"format": params.output_format})
    return params.model_copy(update={"output_config": merged, "output_format": None})


def check_fallbacks(params: MessageCreateParams, entry: ModelEntry) -> None:
    """No model here has refusal classifiers, so a fallback never triggers: `"default"` runs
    on the requested model alone (as hosted on a model without fallbacks), a list is a 400.
    Parley mints no fallback credit tokens: one sent `strict` is a 400, `best_effort` is
    served at the normal price and reported as not applied."""
    if isinstance(params.fallbacks, list):
        raise InvalidRequestError(f"fallbacks: model {entry.id} does not support fallbacks")
    token = params.fallback_credit_token
    if token is None:
        return
    if params.fallbacks is not None:
        raise InvalidRequestError("fallback_credit_token: cannot be combined with fallbacks")
    if not isinstance(token, FallbackCreditTokenParam) or token.mode != "best_effort":
        raise InvalidRequestError("fallback_credit_token: this token was not issued by this server")


def check_billing_policy(params: CountTokensParams, user_profile_id: str | None) -> None:
    """`bill_to: "user_profile"` bills the customer behind `anthropic-user-profile-id`;
    Parley knows no user profile that may be billed."""
    policy = params.billing_policy
    if policy is None or policy.bill_to != "user_profile":
        return
    if not user_profile_id:
        raise InvalidRequestError(
            'billing_policy: bill_to "user_profile" needs the anthropic-user-profile-id header',
            error_code="user_profile_required",
        )
    raise PermissionDeniedError(
        f"billing_policy: user profile {user_profile_id} cannot be billed for this request",
        error_code="user_profile_not_billable",
    )


def check_prewarm(params: MessageCreateParams) -> None:
    """`max_tokens: 0` only pre-warms the prompt cache; the contract refuses it with anything
    that expects output."""
    if params.max_tokens != 0:
        return
    refused = [
        ("stream", bool(params.stream)),
        ("thinking", params.thinking is not None and params.thinking.type == "enabled"),
        (
            "output_config.format",
            params.output_config is not None and params.output_config.format is not None,
        ),
        (
            "tool_choice",
            params.tool_choice is not None and params.tool_choice.type in ("any", "tool"),
        ),
    ]
    for field, present in refused:
        if present:
            raise InvalidRequestError(
                f"max_tokens: 0 (a cache pre-warm) cannot be combined with {field}"
            )
