"""Drift test: every setting is documented in docs/configuration.md with its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.settings import (
    BatchesSettings,
    EngineSettings,
    LimitsSettings,
    ModelSource,
    RemoteSettings,
    ReplicaSource,
    Settings,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_with_its_variable(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION
    if name not in ("engine", "limits", "batches", "remote"):
        assert f"`PARLEY_{name.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(EngineSettings.model_fields))
def test_every_engine_setting_is_documented_with_its_variable(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION
    assert f"`PARLEY_ENGINE__{name.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(LimitsSettings.model_fields))
def test_every_limits_setting_is_documented_with_its_variable(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION
    assert f"`PARLEY_LIMITS__{name.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(BatchesSettings.model_fields))
def test_every_batches_setting_is_documented_with_its_variable(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION
    assert f"`PARLEY_BATCHES__{name.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(RemoteSettings.model_fields))
def test_every_remote_setting_is_documented_with_its_variable(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION
    assert f"`PARLEY_REMOTE__{name.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(ReplicaSource.model_fields))
def test_every_replica_key_is_documented(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(ModelSource.model_fields))
def test_every_model_source_key_is_documented(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION


@pytest.mark.parametrize(
    "page",
    [
        "architecture.md",
        "configuration.md",
        "messages.md",
        "engine.md",
        "caching.md",
        "limits.md",
        "metering.md",
        "surfaces.md",
        "batches.md",
        "deploy.md",
    ],
)
def test_the_readme_links_each_docs_page(page: str) -> None:
    readme = (DOCS.parent / "README.md").read_text()
    assert f"(docs/{page})" in readme
