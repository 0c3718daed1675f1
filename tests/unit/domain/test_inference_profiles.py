"""Bedrock's system-defined inference profiles, made from the catalog."""

from __future__ import annotations

from dataclasses import replace

import pytest

from parley.domain.catalog import DEFAULT_MODEL, Catalog
from parley.domain.inference_profiles import profile, profiles, region_geo
from parley.errors import NotFoundError

RETIRED = replace(DEFAULT_MODEL, id="old-20240101", aliases=(), lifecycle="retired")
CATALOG = Catalog([DEFAULT_MODEL, RETIRED])
PROFILE = "us.anthropic.smollm2-135m-instruct-20250207-v1:0"


@pytest.mark.parametrize(
    ("region", "geo"),
    [
        ("us-east-1", "us"),
        ("us-gov-west-1", "us-gov"),
        ("eu-central-1", "eu"),
        ("ap-northeast-1", "apac"),
        ("me-south-1", None),
    ],
)
def test_a_region_belongs_to_its_geography_by_name(region: str, geo: str | None) -> None:
    assert region_geo(region) == geo


def test_a_region_sees_its_geographys_profiles_and_the_global_ones() -> None:
    assert [p.id for p in profiles(CATALOG, "us-east-1")] == [
        PROFILE,
        "global.anthropic.smollm2-135m-instruct-20250207-v1:0",
    ]
    assert [p.id for p in profiles(CATALOG, "me-south-1")] == [
        "global.anthropic.smollm2-135m-instruct-20250207-v1:0"
    ]


def test_a_profile_names_its_arns_in_the_callers_region() -> None:
    found = profile(CATALOG, PROFILE, "us-west-2")
    assert found.name == "US SmolLM2 135M Instruct"
    assert found.arn == f"arn:aws:bedrock:us-west-2:000000000000:inference-profile/{PROFILE}"
    assert found.model_arn == (
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.smollm2-135m-instruct-20250207-v1:0"
    )


def test_a_profile_is_found_by_its_arn() -> None:
    arn = f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/{PROFILE}"
    assert profile(CATALOG, arn, "us-east-1").id == PROFILE


@pytest.mark.parametrize(
    "identifier",
    ["anthropic.smollm2-135m-instruct-20250207-v1:0", "us.anthropic.unknown-v1:0"],
    ids=["no-geography", "unknown-model"],
)
def test_what_is_not_a_served_profile_is_not_found(identifier: str) -> None:
    with pytest.raises(NotFoundError, match=r"Inference profile .* not found"):
        profile(CATALOG, identifier, "us-east-1")
