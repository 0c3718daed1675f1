"""Model ids as the partner clouds write them, resolved through the catalog. Vertex AI writes a
snapshot after `@` (`name@20250207`); Bedrock writes a provider and a version around the name
(`anthropic.name-20250207-v1:0`), may put a cross-region inference profile's geography in front
(`us.anthropic....`), and may send either as an ARN. Catalog ids and aliases work as they are."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parley.domain.catalog import Catalog, ModelEntry
from parley.errors import NotFoundError

# The geographies of Bedrock's system-defined cross-region inference profiles.
PROFILE_GEOS = ("us", "eu", "apac", "jp", "au", "us-gov", "global")
_VERSION = re.compile(r"-v\d+(:\d+)?$")


def _first_known(catalog: Catalog, names: list[str], shown: str) -> ModelEntry:
    for name in names:
        try:
            return catalog.get(name)
        except NotFoundError:
            continue
    raise NotFoundError(f"model: {shown}")


def vertex_model(catalog: Catalog, model: str) -> ModelEntry:
    """A catalog id or alias, or `name@snapshot` for the catalog's `name-snapshot`."""
    name, at, snapshot = model.rpartition("@")
    names = [model, f"{name}-{snapshot}"] if at else [model]
    return _first_known(catalog, names, model)


@dataclass(frozen=True)
class BedrockModel:
    entry: ModelEntry
    geo: str | None  # the inference profile's geography; None for an in-region model id


def split_profile(model_id: str) -> tuple[str | None, str]:
    """(geo, the rest) of an inference-profile id or ARN; (None, the id) for any other id."""
    name = model_id.rpartition("/")[2] if model_id.startswith("arn:") else model_id
    geo, dot, rest = name.partition(".")
    if dot and geo in PROFILE_GEOS and "." in rest:
        return geo, rest
    return None, name


def bedrock_model(catalog: Catalog, model_id: str) -> BedrockModel:
    """Tries the id as sent, then without its provider (`anthropic.`), then also without its
    version (`-v1:0`), so a catalog id that itself has dots still resolves as it is."""
    geo, name = split_profile(model_id)
    _, dot, unprovided = name.partition(".")
    names = [name]
    if dot:
        names += [unprovided, _VERSION.sub("", unprovided)]
    names.append(_VERSION.sub("", name))
    return BedrockModel(_first_known(catalog, names, model_id), geo)
