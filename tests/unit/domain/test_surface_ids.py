"""Model ids as Vertex AI and Bedrock write them, resolved through the catalog."""

from __future__ import annotations

from dataclasses import replace

import pytest

from parley.domain.catalog import DEFAULT_MODEL, Catalog
from parley.domain.surface_ids import bedrock_model, split_profile, vertex_model
from parley.errors import NotFoundError

PINNED = DEFAULT_MODEL.id
DOTTED = replace(DEFAULT_MODEL, id="qwen2.5-0.5b-instruct", aliases=("qwen",))
CATALOG = Catalog([DEFAULT_MODEL, DOTTED], {"claude-sonnet-4-5-20250929": PINNED})


def test_an_entry_names_itself_as_vertex_writes_a_snapshot() -> None:
    assert DEFAULT_MODEL.vertex_id == "smollm2-135m-instruct@20250207"
    assert DOTTED.vertex_id == "qwen2.5-0.5b-instruct"


def test_an_entry_names_itself_as_bedrock_writes_a_model() -> None:
    assert DEFAULT_MODEL.bedrock_id == "anthropic.smollm2-135m-instruct-20250207-v1:0"


@pytest.mark.parametrize(
    "model",
    [
        "smollm2-135m-instruct@20250207",
        PINNED,
        "smollm2",
        "claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5-20250929",
    ],
)
def test_vertex_ids_catalog_ids_and_aliases_resolve(model: str) -> None:
    assert vertex_model(CATALOG, model).id == PINNED


def test_an_unknown_vertex_id_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="model: smollm2@20990101"):
        vertex_model(CATALOG, "smollm2@20990101")


@pytest.mark.parametrize(
    ("model_id", "geo"),
    [
        ("anthropic.smollm2-135m-instruct-20250207-v1:0", None),
        ("us.anthropic.smollm2-135m-instruct-20250207-v1:0", "us"),
        ("eu.anthropic.smollm2-135m-instruct-20250207-v1:0", "eu"),
        ("apac.anthropic.smollm2-135m-instruct-20250207-v1:0", "apac"),
        ("global.anthropic.smollm2-135m-instruct-20250207-v1:0", "global"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us"),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.smollm2-v1:0", None),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "eu.anthropic.smollm2-135m-instruct-20250207-v1:0",
            "eu",
        ),
        (PINNED, None),
        ("smollm2", None),
    ],
)
def test_bedrock_ids_profiles_arns_and_aliases_resolve(model_id: str, geo: str | None) -> None:
    found = bedrock_model(CATALOG, model_id)
    assert (found.entry.id, found.geo) == (PINNED, geo)


@pytest.mark.parametrize(
    "model_id", ["qwen2.5-0.5b-instruct", "anthropic.qwen2.5-0.5b-instruct-v1:0", "anthropic.qwen"]
)
def test_a_catalog_id_with_dots_resolves_on_bedrock(model_id: str) -> None:
    assert bedrock_model(CATALOG, model_id).entry.id == DOTTED.id


def test_an_unknown_bedrock_id_is_not_found_by_the_name_sent() -> None:
    with pytest.raises(NotFoundError, match=r"model: us\.anthropic\.claude-opus-4-6-v1"):
        bedrock_model(CATALOG, "us.anthropic.claude-opus-4-6-v1")


def test_a_profile_prefix_needs_a_model_after_it() -> None:
    assert split_profile("us.smollm2") == (None, "us.smollm2")
    assert split_profile("us-gov.anthropic.x-v1:0") == ("us-gov", "anthropic.x-v1:0")
