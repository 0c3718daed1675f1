"""Partner quotas: which rule applies, which buckets a request draws from and at what cost."""

from __future__ import annotations

import pytest

from parley.domain.buckets import Bucket, Charge
from parley.domain.quotas import (
    QuotaCharge,
    QuotaRule,
    exhausted,
    quota_charges,
    reserved_output,
    rule_for,
)

RULES = [
    QuotaRule(surface="vertex", rpm=100),
    QuotaRule(surface="vertex", region="europe-west1", rpm=5),
    QuotaRule(surface="vertex", model="big", rpm=20),
    QuotaRule(surface="vertex", region="europe-west1", model="big", rpm=2),
    QuotaRule(surface="bedrock", region="us-east-1", tpm=1000),
    QuotaRule(surface="bedrock", region="us-east-1", tpm=2000),
]


@pytest.mark.parametrize(
    ("surface", "region", "model", "rpm", "tpm"),
    [
        ("vertex", "us-east5", "small", 100, None),  # each region, each model
        ("vertex", "europe-west1", "small", 5, None),  # an exact region beats "*"
        ("vertex", "us-east5", "big", 20, None),  # an exact model beats an exact region
        ("vertex", "europe-west1", "big", 2, None),  # both exact beats all
        ("bedrock", "us-east-1", "small", None, 2000),  # the later one among equals
    ],
)
def test_the_most_specific_rule_applies(
    surface: str, region: str, model: str, rpm: int | None, tpm: int | None
) -> None:
    rule = rule_for(RULES, surface, region, model)
    assert rule is not None and (rule.rpm, rule.tpm) == (rpm, tpm)


@pytest.mark.parametrize(
    ("surface", "region"), [("bedrock", "eu-west-3"), ("claude_api", "global"), ("vertex", "*")]
)
def test_without_a_matching_rule_there_is_no_quota(surface: str, region: str) -> None:
    rules = [*RULES[4:], QuotaRule(surface="vertex", region="us-east5", rpm=1)]
    assert rule_for(rules, surface, region, "small") is None


def test_a_request_draws_one_request_its_input_its_output_and_both_for_tpm() -> None:
    rule = QuotaRule(surface="bedrock", rpm=5, input_tpm=1000, output_tpm=500, tpm=1200)
    charges = quota_charges(rule, "org", "us-east-1", "m", input_tokens=300, output_tokens=64)
    prefix = "quota:org:bedrock:us-east-1:m"
    assert charges == [
        QuotaCharge("rpm", Charge(f"{prefix}:rpm", 5, 1)),
        QuotaCharge("input_tpm", Charge(f"{prefix}:input_tpm", 1000, 300)),
        QuotaCharge("output_tpm", Charge(f"{prefix}:output_tpm", 500, 64)),
        QuotaCharge("tpm", Charge(f"{prefix}:tpm", 1200, 364)),
    ]
    assert [c.name for c in charges if c.settles_on_output] == ["output_tpm", "tpm"]


def test_absent_limits_have_no_bucket() -> None:
    rule = QuotaRule(surface="vertex", region="europe-west1", input_tpm=10_000)
    charges = quota_charges(rule, "org", "europe-west1", "m", input_tokens=7, output_tokens=1)
    assert [c.charge.key for c in charges] == ["quota:org:vertex:europe-west1:m:input_tpm"]


def test_a_star_rule_gives_each_region_and_model_buckets_of_their_own() -> None:
    rule = QuotaRule(surface="vertex", rpm=5)
    keys = {
        quota_charges(rule, owner, region, model, input_tokens=1, output_tokens=1)[0].charge.key
        for owner in ("org-a", "org-b")
        for region in ("us-east5", "europe-west1")
        for model in ("a", "b")
    }
    assert len(keys) == 8


def test_surfaces_never_share_a_bucket_with_each_other_or_the_first_party_limits() -> None:
    vertex = quota_charges(
        QuotaRule(surface="vertex", rpm=5), "org", "us", "m", input_tokens=1, output_tokens=1
    )
    bedrock = quota_charges(
        QuotaRule(surface="bedrock", rpm=5), "org", "us", "m", input_tokens=1, output_tokens=1
    )
    assert vertex[0].charge.key != bedrock[0].charge.key
    assert all(c.charge.key.startswith("quota:") for c in (*vertex, *bedrock))


@pytest.mark.parametrize(
    ("surface", "max_tokens", "reserved"),
    [("bedrock", 4096, 4096), ("vertex", 4096, 1), ("bedrock", 0, 0), ("vertex", 0, 0)],
)
def test_bedrock_reserves_max_tokens_and_vertex_counts_output_as_generated(
    surface: str, max_tokens: int, reserved: int
) -> None:
    assert reserved_output(surface, max_tokens) == reserved


def test_the_refusal_names_the_quotas_that_ran_out() -> None:
    rule = QuotaRule(surface="vertex", rpm=5, input_tpm=100, output_tpm=100)
    charges = quota_charges(rule, "org", "us", "m", input_tokens=80, output_tokens=1)
    buckets = [Bucket(3.0, 0.0), Bucket(50.0, 0.0), Bucket(100.0, 0.0)]
    assert exhausted(charges, buckets) == ["input_tpm"]
