"""`parley keys create --aws` and `parley keys disable AKIA...`, run as real subprocesses on
the data directory of a running server, with boto3 signing by the printed pair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from parley.settings import Settings
from tests.helpers import create_keys, fake_app, free_port, running

pytestmark = pytest.mark.slow

BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 2,
    "messages": [{"role": "user", "content": "Hello"}],
}


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aws-cli")


@pytest.fixture(scope="module")
def url(data_dir: Path) -> Iterator[str]:
    settings = Settings(data_dir=data_dir)
    create_keys(settings)
    with running(fake_app(settings), free_port()) as served:
        yield served


@pytest.fixture(scope="module")
def created(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return parley("keys", "create", "--aws", "--workspace", "bedrock", "--data-dir", str(data_dir))


def invoke(url: str, pair: list[str]) -> Any:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=pair[0],
        aws_secret_access_key=pair[1],
        config=Config(retries={"total_max_attempts": 1}),
    )
    return client.invoke_model(modelId="smollm2", body=json.dumps(BODY))


def test_the_pair_is_printed_as_the_last_line(created: subprocess.CompletedProcess[str]) -> None:
    assert created.returncode == 0, created.stderr
    access_key_id, secret = created.stdout.splitlines()[-1].split(" ")
    assert access_key_id.startswith("AKIA") and len(access_key_id) == 20
    assert len(secret) == 40


def test_the_secret_is_nowhere_in_the_data_directory(
    created: subprocess.CompletedProcess[str], data_dir: Path
) -> None:
    secret = created.stdout.splitlines()[-1].split(" ")[1].encode()
    assert all(secret not in path.read_bytes() for path in data_dir.rglob("*") if path.is_file())


def test_the_printed_pair_signs_requests_until_disabled(
    created: subprocess.CompletedProcess[str], url: str, data_dir: Path
) -> None:
    pair = created.stdout.splitlines()[-1].split(" ")
    assert json.loads(invoke(url, pair)["body"].read())["type"] == "message"
    disabled = parley("keys", "disable", pair[0], "--data-dir", str(data_dir))
    assert disabled.returncode == 0, disabled.stderr
    with pytest.raises(ClientError) as raised:
        invoke(url, pair)
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_aws_keys_cannot_be_admin_keys(data_dir: Path) -> None:
    refused = parley("keys", "create", "--aws", "--admin", "--data-dir", str(data_dir))
    assert refused.returncode == 1
    assert "--aws cannot be combined" in refused.stdout
