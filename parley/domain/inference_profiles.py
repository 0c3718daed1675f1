"""Bedrock's system-defined cross-region inference profiles, made from the catalog: one per
model and geography, named as Bedrock names them (`us.anthropic.<id>-v1:0`), so clients that
discover models through ListInferenceProfiles (Claude Code, boto3) find the ones served here."""

from __future__ import annotations

from dataclasses import dataclass

from parley.domain.catalog import Catalog, ModelEntry
from parley.domain.surface_ids import bedrock_model, split_profile
from parley.errors import NotFoundError

ACCOUNT = "000000000000"  # ARNs need an account; Parley has one per server
GEO_NAMES = {
    "us": "US",
    "eu": "EU",
    "apac": "APAC",
    "jp": "JP",
    "au": "AU",
    "us-gov": "US GOV",
    "global": "Global",
}


@dataclass(frozen=True)
class InferenceProfile:
    geo: str
    entry: ModelEntry
    region: str  # the region asked, where the ARNs point

    @property
    def id(self) -> str:
        return f"{self.geo}.{self.entry.bedrock_id}"

    @property
    def name(self) -> str:
        return f"{GEO_NAMES[self.geo]} {self.entry.display_name}"

    @property
    def arn(self) -> str:
        return f"arn:aws:bedrock:{self.region}:{ACCOUNT}:inference-profile/{self.id}"

    @property
    def model_arn(self) -> str:
        return f"arn:aws:bedrock:{self.region}::foundation-model/{self.entry.bedrock_id}"


def region_geo(region: str) -> str | None:
    """The geography of an AWS region name (`us-east-1` -> `us`), by AWS's naming."""
    for prefix, geo in (("us-gov-", "us-gov"), ("us-", "us"), ("eu-", "eu"), ("ap-", "apac")):
        if region.startswith(prefix):
            return geo
    return None


def profiles(catalog: Catalog, region: str) -> list[InferenceProfile]:
    """Those a caller in `region` can use, as on Bedrock: its geography's and the global ones."""
    geos = [geo for geo in (region_geo(region), "global") if geo is not None]
    return [InferenceProfile(geo, entry, region) for entry in catalog.listed() for geo in geos]


def profile(catalog: Catalog, identifier: str, region: str) -> InferenceProfile:
    """An inference profile by id or ARN (`us.anthropic.<id>-v1:0`, or any id the catalog
    resolves after a geography prefix)."""
    geo, _ = split_profile(identifier)
    if geo is None:
        raise NotFoundError(f"Inference profile {identifier} not found.")
    try:
        entry = bedrock_model(catalog, identifier).entry
    except NotFoundError:
        raise NotFoundError(f"Inference profile {identifier} not found.") from None
    return InferenceProfile(geo, entry, region)
