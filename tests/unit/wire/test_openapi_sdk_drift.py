"""Drift test: the schemas of /openapi.json against the official SDK's types. Every request
field Parley accepts is one the SDK sends (or one listed here, with why), the SDK's required
fields are Parley's, shared enums agree; every response field Parley describes exists in the
SDK's model, and every field the SDK requires is described."""

from __future__ import annotations

from typing import Any, get_args

import anthropic.types as sdk
import pytest
from anthropic.types import message_count_tokens_params, message_create_params
from anthropic.types.beta import message_count_tokens_params as beta_count_tokens_params
from anthropic.types.beta import message_create_params as beta_message_create_params
from anthropic.types.messages import batch_create_params
from pydantic import BaseModel

from parley import __version__
from parley.routes.openapi import build_openapi

SCHEMAS = build_openapi(__version__)["components"]["schemas"]

# Fields Parley accepts that SDK 2.x's TypedDicts no longer (or never) list, and why.
ACCEPTED_BEYOND_THE_SDK = {
    "temperature": "2023-06-01 clients (SDK 1.x, Claude Code, LiteLLM) still send it",
    "top_p": "2023-06-01 clients still send it",
    "top_k": "2023-06-01 clients still send it",
    "output_format": "the older spelling of output_config.format (LiteLLM sends it)",
    "stream": "the SDK's streaming variant of the same params",
}
# Beta fields (threads, compaction, fallbacks, ...) are in the SDK's beta params.
BETA = {
    "MessageCreateParams": beta_message_create_params.MessageCreateParamsBase,
    "CountTokensParams": beta_count_tokens_params.MessageCountTokensParams,
}
REQUESTS = [
    ("MessageCreateParams", message_create_params.MessageCreateParamsBase),
    ("CountTokensParams", message_count_tokens_params.MessageCountTokensParams),
    ("MessageBatchCreateParams", batch_create_params.BatchCreateParams),
    ("MessageBatchRequestParam", batch_create_params.Request),
]
RESPONSES: list[tuple[str, type[BaseModel]]] = [
    ("Message", sdk.Message),
    ("Usage", sdk.Usage),
    ("TextBlock", sdk.TextBlock),
    ("ToolUseBlock", sdk.ToolUseBlock),
    ("MessageTokensCount", sdk.MessageTokensCount),
    ("ModelInfo", sdk.ModelInfo),
    ("ErrorResponse", sdk.ErrorResponse),
    ("MessageBatch", sdk.messages.MessageBatch),
    ("MessageBatchRequestCounts", sdk.messages.MessageBatchRequestCounts),
    ("DeletedMessageBatch", sdk.messages.DeletedMessageBatch),
]


def typed_dict_fields(params: Any) -> tuple[set[str], set[str]]:
    """(all fields, required fields) of an SDK params TypedDict (annotations are strings)."""
    annotations = {
        name: str(getattr(value, "__forward_arg__", value))
        for name, value in params.__annotations__.items()
    }
    return set(annotations), {n for n, a in annotations.items() if a.startswith("Required[")}


def enum_of(schema: dict[str, Any]) -> set[str] | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if "enum" in option:
            return set(option["enum"])
    return None


@pytest.mark.parametrize(("ours", "theirs"), REQUESTS, ids=[name for name, _ in REQUESTS])
def test_every_request_field_parley_accepts_is_the_sdks(ours: str, theirs: Any) -> None:
    sdk_fields, _ = typed_dict_fields(theirs)
    if ours in BETA:
        sdk_fields |= typed_dict_fields(BETA[ours])[0]
    accepted = set(SCHEMAS[ours]["properties"])
    assert accepted - sdk_fields - set(ACCEPTED_BEYOND_THE_SDK) == set()


@pytest.mark.parametrize(("ours", "theirs"), REQUESTS, ids=[name for name, _ in REQUESTS])
def test_the_sdks_required_request_fields_are_parleys(ours: str, theirs: Any) -> None:
    _, required = typed_dict_fields(theirs)
    assert set(SCHEMAS[ours]["required"]) == required


@pytest.mark.parametrize("name", ["service_tier", "speed"])
def test_request_enums_agree_with_the_sdk(name: str) -> None:
    annotation = message_create_params.MessageCreateParamsBase.__annotations__[name]
    sdk_values = set(get_args(eval(annotation.__forward_arg__, vars(message_create_params))))
    sdk_values |= {
        value for arg in sdk_values if not isinstance(arg, str) for value in get_args(arg)
    }
    ours = enum_of(SCHEMAS["MessageCreateParams"]["properties"][name])
    assert ours is not None
    assert ours == {v for v in sdk_values if isinstance(v, str)}


@pytest.mark.parametrize(("ours", "theirs"), RESPONSES, ids=[name for name, _ in RESPONSES])
def test_every_response_field_described_exists_in_the_sdk(
    ours: str, theirs: type[BaseModel]
) -> None:
    beta = getattr(sdk.beta, f"Beta{theirs.__name__}", None)  # beta fields, e.g. fallback_credit
    known = set(theirs.model_fields) | set(beta.model_fields if beta else ())
    assert set(SCHEMAS[ours]["properties"]) - known == set()


@pytest.mark.parametrize(("ours", "theirs"), RESPONSES, ids=[name for name, _ in RESPONSES])
def test_every_response_field_the_sdk_requires_is_described(
    ours: str, theirs: type[BaseModel]
) -> None:
    required = {name for name, field in theirs.model_fields.items() if field.is_required()}
    assert required - set(SCHEMAS[ours]["properties"]) == set()


def test_stop_reasons_are_the_sdks() -> None:
    sdk_values = set(get_args(sdk.beta.BetaStopReason))  # beta adds "compaction"
    assert enum_of(SCHEMAS["Message"]["properties"]["stop_reason"]) == sdk_values
