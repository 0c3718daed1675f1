"""Regions and data residency: where a request may run, from the endpoint it was sent to and
the geo it asked for.

- `global` runs anywhere.
- A geo (a multi-region such as Vertex's `us` or `eu`, a Bedrock inference profile's prefix
  `us.` / `eu.` / `apac.`, the first-party `inference_geo`) runs only in regions of that geo.
- A named region runs only there.

With no `[regions]` table every region name exists and one machine serves them all; Parley
then knows no region's geo, so a named region still runs only there, while `global` and a geo
run anywhere. With the table only its regions exist, each in one geo and serving some models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from parley.errors import NotFoundError

GLOBAL = "global"
MULTI_REGIONS = frozenset({"us", "eu"})  # Vertex's multi-region locations, named by their geo


def is_global(region: str, geo: str | None) -> bool:
    """A request held to no region or geo: what the global endpoint's price applies to."""
    return (geo or region) == GLOBAL


@dataclass(frozen=True)
class Region:
    """`models`: the catalog ids served here; None serves every model."""

    name: str
    geo: str
    models: frozenset[str] | None = None

    def serves(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True)
class Placement:
    """`regions`: where the request may run (None: anywhere). `geo`: the geo it is held to
    (`global` when anywhere; None for a named region whose geo is not configured)."""

    regions: frozenset[str] | None
    geo: str | None


class RegionMap:
    """The `[regions]` table, or none (every region exists and is served here)."""

    def __init__(self, regions: Iterable[Region] = ()) -> None:
        self._regions = {region.name: region for region in regions}
        for region in self._regions.values():
            if GLOBAL in (region.name, region.geo):
                raise ValueError(f"region {region.name!r}: `global` is not a region or a geo")

    def exists(self, name: str) -> bool:
        """Whether `name` is a region here (without a table, every name is)."""
        return not self._regions or name in self._regions

    def place(self, *, region: str, geo: str | None, model: str) -> Placement:
        """Where a request for `model`, sent to the endpoint `region` and asking for `geo`,
        may run. NotFoundError if that region or geo does not exist, or does not serve the
        model."""
        if geo is None:
            return self._at_endpoint(region, model)
        if region != GLOBAL:
            self._check_endpoint(region, geo)
        return self._within(geo, model)

    def _at_endpoint(self, region: str, model: str) -> Placement:
        if region == GLOBAL or (not self._regions and region in MULTI_REGIONS):
            return self._within(region, model)
        if not self._regions:
            return Placement(frozenset({region}), None)
        named = self._regions.get(region)
        if named is None:
            if any(r.geo == region for r in self._regions.values()):
                return self._within(region, model)  # a multi-region: its geo's regions
            raise NotFoundError(f"region '{region}' does not exist on this server")
        if not named.serves(model):
            raise NotFoundError(f"model {model} is not served in region '{region}'")
        return Placement(frozenset({region}), named.geo)

    def _within(self, geo: str, model: str) -> Placement:
        """Every region of `geo` (of any geo for `global`) that serves `model`."""
        if not self._regions:
            return Placement(None, geo)
        members = [r for r in self._regions.values() if geo in (GLOBAL, r.geo)]
        if not members:
            raise NotFoundError(f"no region of geo '{geo}' exists on this server")
        serving = frozenset(r.name for r in members if r.serves(model))
        if not serving:
            where = "in any region" if geo == GLOBAL else f"in geo '{geo}'"
            raise NotFoundError(f"model {model} is not served {where}")
        return Placement(serving, geo)

    def _check_endpoint(self, region: str, geo: str) -> None:
        """A geo asked for at a named endpoint (a Bedrock inference profile): the endpoint
        must exist, and lie in that geo unless the profile is global."""
        if not self._regions:
            return
        named = self._regions.get(region)
        if named is None:
            raise NotFoundError(f"region '{region}' does not exist on this server")
        if geo != GLOBAL and named.geo != geo:
            raise NotFoundError(f"geo '{geo}' cannot be reached from region '{region}'")
