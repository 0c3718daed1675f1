"""Catalog: pinned ids, aliases, lifecycles, and the limits checked against an entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from anthropic.types import ModelCapabilities

from parley.domain.catalog import (
    DEFAULT_MODEL,
    Catalog,
    LocalFile,
    ModelEntry,
    capabilities,
    check_max_tokens,
)
from parley.errors import InvalidRequestError, NotFoundError

PINNED = "smollm2-135m-instruct-20250207"


def entry(model_id: str, created: str, *aliases: str, **changes: object) -> ModelEntry:
    base = ModelEntry(
        id=model_id,
        display_name=model_id,
        created_at=datetime.fromisoformat(created),
        context_window=4096,
        max_output=1024,
        backend=LocalFile(Path(f"/models/{model_id}.gguf")),
        aliases=aliases,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


OLD = entry("old-20240101", "2024-01-01T00:00:00Z", "old")
NEW = entry("new-20250101", "2025-01-01T00:00:00Z", "new", "latest")


def test_the_default_model_is_pinned_with_its_aliases() -> None:
    catalog = Catalog([DEFAULT_MODEL])
    assert catalog.get("smollm2-135m").id == PINNED
    assert catalog.get("smollm2").id == PINNED
    assert catalog.get(PINNED).id == PINNED


def test_entries_are_listed_newest_first() -> None:
    assert [e.id for e in Catalog([OLD, NEW]).entries] == ["new-20250101", "old-20240101"]


def test_an_alias_resolves_to_its_entry() -> None:
    assert Catalog([OLD, NEW]).get("latest") == NEW


def test_an_operator_alias_resolves_to_its_target() -> None:
    catalog = Catalog([DEFAULT_MODEL], {"claude-sonnet-4-5": PINNED})
    assert catalog.get("claude-sonnet-4-5").id == PINNED


def test_an_operator_alias_may_point_at_another_alias() -> None:
    catalog = Catalog([DEFAULT_MODEL], {"claude-haiku-4-5": "smollm2"})
    assert catalog.get("claude-haiku-4-5").id == PINNED


def test_aliases_of_an_entry_are_sorted_and_exclude_its_id() -> None:
    catalog = Catalog([NEW], {"claude-x": "new"})
    assert catalog.aliases_of(NEW) == ["claude-x", "latest", "new"]


def test_an_operator_alias_to_an_unknown_model_raises() -> None:
    with pytest.raises(ValueError, match="alias 'claude-x' points at unknown model 'nope'"):
        Catalog([OLD], {"claude-x": "nope"})


def test_two_entries_claiming_one_alias_raise() -> None:
    clash = entry("other-20250202", "2025-02-02T00:00:00Z", "old")
    with pytest.raises(ValueError, match="model id 'old' is claimed by"):
        Catalog([OLD, clash])


def test_an_operator_alias_equal_to_another_entrys_id_raises() -> None:
    with pytest.raises(ValueError, match="model id 'new-20250101' is claimed by"):
        Catalog([OLD, NEW], {"new-20250101": "old"})


def test_an_unknown_model_is_not_found_naming_it() -> None:
    with pytest.raises(NotFoundError) as raised:
        Catalog([OLD]).get("claude-3-opus")
    assert raised.value.message == "model: claude-3-opus"


def test_a_retired_model_is_not_found_for_inference() -> None:
    catalog = Catalog([entry("gone-20230101", "2023-01-01T00:00:00Z", "gone", lifecycle="retired")])
    with pytest.raises(NotFoundError, match="retired"):
        catalog.resolve_for_inference("gone")


def test_a_retired_model_is_still_described() -> None:
    retired = entry("gone-20230101", "2023-01-01T00:00:00Z", lifecycle="retired")
    assert Catalog([retired]).get("gone-20230101").lifecycle == "retired"


def test_a_deprecated_model_still_serves_inference() -> None:
    deprecated = entry("dep-20230101", "2023-01-01T00:00:00Z", lifecycle="deprecated")
    assert Catalog([deprecated]).resolve_for_inference("dep-20230101") == deprecated


def test_listing_leaves_out_retired_models_by_default() -> None:
    retired = entry("gone-20230101", "2023-01-01T00:00:00Z", lifecycle="retired")
    catalog = Catalog([OLD, NEW, retired])
    assert [e.id for e in catalog.listed()] == ["new-20250101", "old-20240101"]
    assert [e.id for e in catalog.listed(["retired"])] == ["gone-20230101"]


def test_max_tokens_up_to_the_model_maximum_is_accepted() -> None:
    check_max_tokens(OLD, 1024)


def test_max_tokens_above_the_model_maximum_is_a_400_naming_both() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        check_max_tokens(OLD, 1025)
    assert raised.value.message == (
        "max_tokens: 1025 > 1024, which is the maximum allowed number of output tokens "
        "for old-20240101"
    )


def test_capabilities_have_the_sdks_shape() -> None:
    parsed = ModelCapabilities.model_validate(capabilities(DEFAULT_MODEL))
    assert parsed.image_input.supported is False
    assert parsed.thinking.supported is False
    assert parsed.thinking.types.adaptive.supported is True
