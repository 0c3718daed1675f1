"""`parley batches ...` against a running server (a FakeEngine behind a real uvicorn), each
command a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parley.settings import BatchesSettings, Settings
from tests.helpers import (
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    create_keys,
    fake_app,
    free_port,
    running,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("batches-cli"),
        batches=BatchesSettings(poll_seconds=0.02),
    )
    create_keys(settings)
    with running(fake_app(settings), free_port()) as base:
        yield base


def parley(url: str, *args: str, key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    keyed = ["--key", key] if key else []
    return subprocess.run(
        [sys.executable, "-m", "parley", "batches", *args, "--url", url, *keyed],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def created(url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    jsonl = tmp_path_factory.mktemp("jsonl") / "requests.jsonl"
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
    jsonl.write_text(
        "".join(json.dumps({"custom_id": f"c{i}", "params": body}) + "\n" for i in range(3))
    )
    result = parley(url, "create", str(jsonl), "--wait")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_create_waits_for_the_batch_and_prints_its_id_last(url: str, created: str) -> None:
    assert created.startswith("msgbatch_01")
    shown = parley(url, "get", created)
    assert json.loads(shown.stdout)["processing_status"] == "ended"


def test_results_writes_one_line_per_request(url: str, created: str, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    assert parley(url, "results", created, "-o", str(out)).returncode == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["c0", "c1", "c2"]
    assert {line["result"]["type"] for line in lines} == {"succeeded"}


def test_list_shows_the_batch(url: str, created: str) -> None:
    listed = parley(url, "list")
    assert created in listed.stdout


def test_list_json_prints_the_apis_page(url: str, created: str) -> None:
    listed = json.loads(parley(url, "list", "--json").stdout)
    api = httpx.get(
        f"{url}/v1/messages/batches",
        params={"limit": 100},
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
    ).json()
    assert listed == api
    assert created in [batch["id"] for batch in listed["data"]]


def test_an_empty_list_says_how_to_create_a_batch(url: str) -> None:
    listed = parley(url, "list", key=OTHER_WORKSPACE_KEY)
    assert listed.returncode == 0
    assert "No Message Batches yet" in listed.stdout
    assert "parley batches create FILE.jsonl" in listed.stdout


def test_an_empty_json_list_has_no_data(url: str) -> None:
    listed = json.loads(parley(url, "list", "--json", key=OTHER_WORKSPACE_KEY).stdout)
    assert listed == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_without_a_key_it_says_how_to_give_one(url: str) -> None:
    result = parley(url, "list", key="")
    assert result.returncode == 1
    assert "pass --key sk-ant-api03-... or set PARLEY_API_KEY" in result.stdout


def test_cancel_of_an_unknown_batch_says_why_and_exits_1(url: str) -> None:
    result = parley(url, "cancel", "msgbatch_01nope")
    assert result.returncode == 1
    assert "404: No message batch found with id 'msgbatch_01nope'" in result.stdout
