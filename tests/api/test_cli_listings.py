"""The listing commands as a script sees them: output piped at 80 columns keeps every id whole
on one line, `--json` prints the API's objects, an empty listing says what would fill it, and a
missing admin key says how to give one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from parley.cli import ADMIN_KEY_ENV, app
from parley.settings import Settings
from tests.helpers import ADMIN_KEY, MODEL, create_keys, fake_app, free_port, running

runner = CliRunner()


@pytest.fixture(autouse=True)
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv(ADMIN_KEY_ENV, raising=False)
    for name in ("PARLEY_DATA_DIR", "PARLEY_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-listings")
    create_keys(Settings(data_dir=folder))
    return folder


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    with running(fake_app(Settings(data_dir=data_dir)), free_port()) as url:
        yield url


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def lines_of(output: str) -> list[str]:
    return output.splitlines()


def test_models_at_80_columns_keep_the_pinned_id_on_one_line(data_dir: Path) -> None:
    output = run("models", "--data-dir", str(data_dir))
    assert any(MODEL in line for line in lines_of(output))
    assert "…" not in output
    assert max(len(line) for line in lines_of(output)) <= 80


def test_keys_list_at_80_columns_keeps_every_key_id_whole(data_dir: Path, server: str) -> None:
    listed = httpx.get(
        f"{server}/v1/organizations/api_keys", headers={"x-api-key": ADMIN_KEY}
    ).json()["data"]
    output = run("keys", "list", "--data-dir", str(data_dir))
    for key in listed:
        assert any(key["id"] in line for line in lines_of(output)), key["id"]
    assert "…" not in output


def test_keys_list_json_prints_the_admin_apis_objects(data_dir: Path, server: str) -> None:
    listed = httpx.get(
        f"{server}/v1/organizations/api_keys", headers={"x-api-key": ADMIN_KEY}
    ).json()["data"]
    printed = json.loads(run("keys", "list", "--json", "--data-dir", str(data_dir)))["data"]
    assert sorted(printed, key=lambda k: k["id"]) == sorted(listed, key=lambda k: k["id"])


def test_workspaces_list_json_prints_the_admin_apis_objects(data_dir: Path, server: str) -> None:
    listed = httpx.get(
        f"{server}/v1/organizations/workspaces", headers={"x-api-key": ADMIN_KEY}
    ).json()["data"]
    printed = json.loads(run("workspaces", "list", "--json", "--data-dir", str(data_dir)))
    assert sorted(printed["data"], key=lambda w: w["id"]) == sorted(listed, key=lambda w: w["id"])


def test_models_json_prints_the_models_apis_objects(data_dir: Path, server: str) -> None:
    listed = httpx.get(f"{server}/v1/models", headers={"x-api-key": ADMIN_KEY}).json()["data"]
    printed = json.loads(run("models", "--json", "--data-dir", str(data_dir)))["data"]
    assert printed == listed


def test_limits_json_is_the_rate_limits_api(server: str) -> None:
    listed = httpx.get(
        f"{server}/v1/organizations/rate_limits", headers={"x-api-key": ADMIN_KEY}
    ).json()
    assert json.loads(run("limits", "--json", "--url", server, "--key", ADMIN_KEY)) == listed


def test_limits_at_80_columns_keep_each_group_id_whole(server: str) -> None:
    listed = httpx.get(
        f"{server}/v1/organizations/rate_limits", headers={"x-api-key": ADMIN_KEY}
    ).json()["data"]
    output = run("limits", "--url", server, "--key", ADMIN_KEY)
    for group in listed:
        assert any(group["id"] in line for line in lines_of(output)), group["id"]


def test_an_empty_cache_says_what_would_fill_it(server: str) -> None:
    output = run("cache", "--url", server, "--key", ADMIN_KEY)
    assert "No live prompt-cache entries" in output and "cache_control" in output


def test_the_admin_key_may_come_from_the_environment(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_KEY_ENV, ADMIN_KEY)
    assert json.loads(run("cache", "--json", "--url", server)) == {"data": []}


@pytest.mark.parametrize("command", ["limits", "cache"])
def test_a_missing_key_says_how_to_give_one(command: str, server: str) -> None:
    result = runner.invoke(app, [command, "--url", server])
    assert result.exit_code == 1
    assert "--key" in result.output and ADMIN_KEY_ENV in result.output


def test_usage_with_no_requests_says_so(data_dir: Path) -> None:
    output = run("usage", "--data-dir", str(data_dir))
    assert "No requests from" in output


def test_usage_json_is_the_usage_reports_shape(data_dir: Path) -> None:
    printed = json.loads(run("usage", "--json", "--data-dir", str(data_dir)))
    assert set(printed) == {"data", "has_more", "next_page"}
    assert all(bucket["results"] == [] for bucket in printed["data"])
