"""Settings: the TOML file, `PARLEY_*` variables and CLI overrides, in that order of strength."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from parley.settings import Settings, load_settings

TOML = """
host = "0.0.0.0"
port = 9000

[engine]
kv_cells = 1024

[aliases]
"claude-sonnet-4-5" = "smollm2-135m-instruct-20250207"

[[models]]
id = "qwen2.5-0.5b-instruct"
hf_repo = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
hf_file = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
aliases = ["qwen"]

[[models]]
id = "local-model"
path = "/models/local.gguf"
context_window = 2048
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PARLEY_"):
            monkeypatch.delenv(name)


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "parley.toml"
    path.write_text(TOML)
    return path


def test_the_toml_file_sets_values(config_file: Path) -> None:
    settings = load_settings(config_file)
    assert (settings.host, settings.port, settings.engine.kv_cells) == ("0.0.0.0", 9000, 1024)


def test_the_toml_file_declares_aliases(config_file: Path) -> None:
    assert load_settings(config_file).aliases == {
        "claude-sonnet-4-5": "smollm2-135m-instruct-20250207"
    }


def test_the_toml_file_declares_hub_and_local_models(config_file: Path) -> None:
    hub, local = load_settings(config_file).models
    assert (hub.id, hub.hf_repo, hub.hf_file, hub.aliases) == (
        "qwen2.5-0.5b-instruct",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        ["qwen"],
    )
    assert (local.path, local.context_window) == (Path("/models/local.gguf"), 2048)


def test_an_environment_variable_beats_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9100")
    settings = load_settings(config_file)
    assert (settings.port, settings.host) == (9100, "0.0.0.0")


def test_an_override_beats_the_environment(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9100")
    assert load_settings(config_file, port=9200).port == 9200


def test_a_none_override_leaves_the_value_alone(config_file: Path) -> None:
    assert load_settings(config_file, port=None).port == 9000


def test_parley_data_dir_sets_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'data' / 'parley.db'}"


def test_a_nested_engine_variable_sets_one_engine_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_ENGINE__THREADS", "3")
    engine = Settings().engine
    assert (engine.threads, engine.max_sequences) == (3, 8)


def test_a_nested_engine_variable_merges_with_the_files_engine_table(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_ENGINE__THREADS", "3")
    engine = load_settings(config_file).engine
    assert (engine.threads, engine.kv_cells) == (3, 1024)


def test_limits_variables_set_the_otpm_mode_and_a_workspaces_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_LIMITS__OTPM", "reserve")
    monkeypatch.setenv("PARLEY_LIMITS__WORKSPACES", '{"wrkspc_01a": {"rpm": 60}}')
    limits = load_settings(None).limits
    assert limits.otpm == "reserve"
    assert {k: v.model_dump() for k, v in limits.workspaces.items()} == {
        "wrkspc_01a": {"rpm": 60, "itpm": None, "otpm": None}
    }


def test_an_unknown_otpm_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_LIMITS__OTPM", "eventually")
    with pytest.raises(ValidationError):
        load_settings(None)


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_database_url() == f"sqlite:///{tmp_path}/parley.db"


def test_an_explicit_database_url_is_used_as_given() -> None:
    url = "postgresql://127.0.0.1:5432/test"
    assert Settings(database_url=url).resolved_database_url() == url


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("bogus = 1\n")
    with pytest.raises(ValidationError, match="bogus"):
        load_settings(path)


def test_an_unknown_key_in_the_engine_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[engine]\nthreadz = 2\n")
    with pytest.raises(ValidationError, match="threadz"):
        load_settings(path)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_settings(tmp_path / "missing.toml")


def test_an_out_of_range_engine_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_ENGINE__MAX_SEQUENCES", "0")
    with pytest.raises(ValidationError, match="max_sequences"):
        Settings()


SURFACES_TOML = """
[regions."us-east5"]
geo = "us"
models = ["smollm2-135m"]        # catalog ids or aliases served here; omitted = every model
[regions."europe-west1"]
geo = "eu"

[[quotas]]
surface = "vertex"        # vertex | bedrock
region = "europe-west1"   # or "*"
model = "*"               # catalog id or "*"
rpm = 5
input_tpm = 10000         # any subset of rpm, input_tpm, output_tpm, tpm (input+output)

[[price_overrides]]
model = "smollm2"
surface = "bedrock"
region = "eu"
multiplier = "1.2"
"""


def test_the_toml_file_declares_regions_quotas_and_price_overrides(tmp_path: Path) -> None:
    path = tmp_path / "surfaces.toml"
    path.write_text(SURFACES_TOML)
    settings = load_settings(path)
    assert {name: (r.geo, r.models) for name, r in settings.regions.items()} == {
        "us-east5": ("us", ["smollm2-135m"]),
        "europe-west1": ("eu", None),
    }
    (quota,) = settings.quotas
    assert (quota.surface, quota.region, quota.model, quota.rpm, quota.input_tpm) == (
        "vertex",
        "europe-west1",
        "*",
        5,
        10000,
    )
    assert (quota.output_tpm, quota.tpm) == (None, None)
    (override,) = settings.price_overrides
    assert (override.model, override.surface, override.region, str(override.multiplier)) == (
        "smollm2",
        "bedrock",
        "eu",
        "1.2",
    )


def test_a_quota_of_the_first_party_surface_is_refused() -> None:
    with pytest.raises(ValidationError, match="surface"):
        Settings.model_validate({"quotas": [{"surface": "claude_api", "rpm": 1}]})


def test_regions_come_from_a_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_REGIONS", '{"eu-west-3": {"geo": "eu"}}')
    assert Settings().regions["eu-west-3"].geo == "eu"
