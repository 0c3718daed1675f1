"""Where a request may run: every kind of location asked for, with the `[regions]` table and
without it."""

from __future__ import annotations

import pytest

from parley.domain.regions import Placement, Region, RegionMap, is_global
from parley.errors import NotFoundError

TABLE = RegionMap(
    [
        Region("us-east5", "us"),
        Region("us-central1", "us", frozenset({"small"})),
        Region("europe-west1", "eu"),
        Region("europe-west4", "eu", frozenset({"big"})),
        Region("asia-southeast1", "apac", frozenset({"big"})),
    ]
)
OPEN = RegionMap()
SMALL = frozenset({"us-east5", "us-central1", "europe-west1"})  # where "small" is served
EVERY = frozenset({"us-east5", "us-central1", "europe-west1", "europe-west4", "asia-southeast1"})


@pytest.mark.parametrize(
    ("region", "geo", "model", "placement"),
    [
        # the global endpoint, and a global geo, run in every region serving the model
        ("global", None, "big", Placement(EVERY - {"us-central1"}, "global")),
        ("global", None, "small", Placement(SMALL, "global")),
        ("global", "global", "big", Placement(EVERY - {"us-central1"}, "global")),
        # a named region runs only there, in its geo
        ("us-east5", None, "big", Placement(frozenset({"us-east5"}), "us")),
        ("europe-west4", None, "big", Placement(frozenset({"europe-west4"}), "eu")),
        # a multi-region runs in the regions of its geo that serve the model
        ("us", None, "small", Placement(frozenset({"us-east5", "us-central1"}), "us")),
        ("us", None, "big", Placement(frozenset({"us-east5"}), "us")),
        ("eu", None, "big", Placement(frozenset({"europe-west1", "europe-west4"}), "eu")),
        ("eu", None, "small", Placement(frozenset({"europe-west1"}), "eu")),
        # first-party inference_geo: the global endpoint held to a geo
        ("global", "us", "big", Placement(frozenset({"us-east5"}), "us")),
        ("global", "apac", "big", Placement(frozenset({"asia-southeast1"}), "apac")),
        # an inference profile at a named endpoint of its geo: the geo's regions
        ("us-central1", "us", "big", Placement(frozenset({"us-east5"}), "us")),
        ("europe-west4", "eu", "small", Placement(frozenset({"europe-west1"}), "eu")),
        # a global profile at any endpoint that exists: anywhere
        ("asia-southeast1", "global", "small", Placement(SMALL, "global")),
    ],
)  # fmt: skip
def test_the_table_places_each_location_in_its_regions(
    region: str, geo: str | None, model: str, placement: Placement
) -> None:
    assert TABLE.place(region=region, geo=geo, model=model) == placement


@pytest.mark.parametrize(
    ("region", "geo", "model", "message"),
    [
        ("mars-north1", None, "big", "region 'mars-north1' does not exist on this server"),
        ("us-central1", None, "big", "model big is not served in region 'us-central1'"),
        ("asia-southeast1", None, "small", "model small is not served in region 'asia-southeast1'"),
        ("apac", None, "small", "model small is not served in geo 'apac'"),
        ("global", "jp", "big", "no region of geo 'jp' exists on this server"),
        ("global", "apac", "small", "model small is not served in geo 'apac'"),
        ("mars-north1", "us", "big", "region 'mars-north1' does not exist on this server"),
        ("mars-north1", "global", "big", "region 'mars-north1' does not exist on this server"),
        ("europe-west1", "us", "big", "geo 'us' cannot be reached from region 'europe-west1'"),
        ("us-east5", "apac", "big", "geo 'apac' cannot be reached from region 'us-east5'"),
    ],
)
def test_the_table_refuses_what_does_not_exist_or_is_not_served(
    region: str, geo: str | None, model: str, message: str
) -> None:
    with pytest.raises(NotFoundError) as refused:
        TABLE.place(region=region, geo=geo, model=model)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("region", "geo", "placement"),
    [
        ("global", None, Placement(None, "global")),
        ("global", "global", Placement(None, "global")),
        ("us", None, Placement(None, "us")),
        ("eu", None, Placement(None, "eu")),
        ("global", "us", Placement(None, "us")),
        ("us-east-1", "us", Placement(None, "us")),
        ("eu-west-3", "global", Placement(None, "global")),
        ("us-east5", None, Placement(frozenset({"us-east5"}), None)),
        ("any-name-at-all", None, Placement(frozenset({"any-name-at-all"}), None)),
    ],
)
def test_without_a_table_every_region_exists_and_only_a_named_one_is_held_to_itself(
    region: str, geo: str | None, placement: Placement
) -> None:
    assert OPEN.place(region=region, geo=geo, model="any") == placement


def test_a_model_no_region_serves_is_not_served_globally() -> None:
    regions = RegionMap([Region("us-east5", "us", frozenset({"big"}))])
    with pytest.raises(NotFoundError, match="model small is not served in any region"):
        regions.place(region="global", geo=None, model="small")


def test_a_configured_region_named_like_a_geo_is_that_region() -> None:
    regions = RegionMap([Region("us", "us", frozenset({"m"})), Region("us-east5", "us")])
    assert regions.place(region="us", geo=None, model="m") == Placement(frozenset({"us"}), "us")


@pytest.mark.parametrize("region", [Region("global", "us"), Region("us-east5", "global")])
def test_global_is_neither_a_region_nor_a_geo_of_the_table(region: Region) -> None:
    with pytest.raises(ValueError, match="`global` is not a region or a geo"):
        RegionMap([region])


@pytest.mark.parametrize(
    ("region", "geo", "expected"),
    [
        ("global", None, True),
        ("global", "global", True),
        ("us-east-1", "global", True),
        ("global", "us", False),
        ("us", None, False),
        ("europe-west1", None, False),
        ("europe-west1", "eu", False),
    ],
)
def test_only_a_request_held_to_nothing_is_global(
    region: str, geo: str | None, expected: bool
) -> None:
    assert is_global(region, geo) is expected
