"""`parley batches ...` against a running server (a FakeEngine behind a real uvicorn), each
command a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.settings import BatchesSettings, Settings
from tests.helpers import API_KEY, MODEL, create_keys, fake_app, free_port, running

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


def parley(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run(
        [sys.executable, "-m", "parley", "batches", *args, "--url", url, "--key", API_KEY],
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


def test_cancel_of_an_unknown_batch_says_why_and_exits_1(url: str) -> None:
    result = parley(url, "cancel", "msgbatch_01nope")
    assert result.returncode == 1
    assert "404: No message batch found with id 'msgbatch_01nope'" in result.stdout
