"""Drift test: our response models against the official SDK's `anthropic.types`.

Every field we send must exist in the SDK's counterpart (a client could not read it otherwise),
and every field the SDK requires must exist in ours (a client would fail to parse us otherwise).
"""

from __future__ import annotations

import anthropic.types as sdk
import anthropic.types.beta as beta
import pytest
from anthropic.types.raw_message_delta_event import Delta as SdkMessageDelta
from pydantic import BaseModel

from parley.wire import errors, messages, models, stream

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (messages.Message, sdk.Message),
    (messages.Usage, beta.BetaUsage),  # `fallback_credit` is a beta field
    (messages.CompactionBlock, beta.BetaCompactionBlock),
    (stream.CompactionDelta, beta.BetaCompactionContentBlockDelta),
    (messages.CacheCreation, sdk.CacheCreation),
    (messages.TextBlock, sdk.TextBlock),
    (messages.MessageTokensCount, sdk.MessageTokensCount),
    (models.ModelInfo, sdk.ModelInfo),
    (stream.MessageStartEvent, sdk.RawMessageStartEvent),
    (stream.ContentBlockStartEvent, sdk.RawContentBlockStartEvent),
    (stream.ContentBlockDeltaEvent, sdk.RawContentBlockDeltaEvent),
    (stream.TextDelta, sdk.TextDelta),
    (stream.ContentBlockStopEvent, sdk.RawContentBlockStopEvent),
    (stream.MessageDeltaEvent, sdk.RawMessageDeltaEvent),
    (stream.MessageDelta, SdkMessageDelta),
    (stream.MessageDeltaUsage, sdk.MessageDeltaUsage),
    (stream.MessageStopEvent, sdk.RawMessageStopEvent),
    (errors.ErrorResponse, sdk.ErrorResponse),
]
IDS = [ours.__name__ for ours, _ in PAIRS]
TAGGED = [(ours, theirs) for ours, theirs in PAIRS if "type" in theirs.model_fields]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_every_field_we_send_exists_in_the_sdk(
    ours: type[BaseModel], theirs: type[BaseModel]
) -> None:
    assert set(ours.model_fields) - set(theirs.model_fields) == set()


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_every_field_the_sdk_requires_exists_in_ours(
    ours: type[BaseModel], theirs: type[BaseModel]
) -> None:
    required = {name for name, field in theirs.model_fields.items() if field.is_required()}
    assert required - set(ours.model_fields) == set()


@pytest.mark.parametrize(("ours", "theirs"), TAGGED, ids=[o.__name__ for o, _ in TAGGED])
def test_the_type_tag_matches_the_sdk(ours: type[BaseModel], theirs: type[BaseModel]) -> None:
    assert ours.model_fields["type"].annotation == theirs.model_fields["type"].annotation
