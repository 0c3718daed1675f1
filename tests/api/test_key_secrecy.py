"""Secrets never reach the server's log: a real `parley serve` process gets a session of varied
traffic (each surface, each kind of key, refusals, a disabled key, a stream cut short, a bad
signature, a wrong key that looks real), and its whole output is searched for every secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from parley.settings import Settings
from parley.store.db import connect
from parley.store.keys import KeyStore
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    MODEL,
    OTHER_WORKSPACE_KEY,
    blocking,
    create_aws_key,
    create_keys,
    free_port,
)

pytestmark = pytest.mark.slow

TO_DISABLE = "sk-ant-api03-parley-secrecy-key-to-disable"
LOOKALIKE = "sk-ant-api03-parley-secrecy-key-not-issued"
BODY = {"model": MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": "Hello"}]}


@dataclass
class Session:
    url: str
    secrets: list[str]
    log: Path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    data_dir = tmp_path_factory.mktemp("secrecy")
    settings = Settings(data_dir=data_dir)
    create_keys(settings)
    disabled = blocking(
        KeyStore(connect(settings.resolved_database_url())).create(
            name="to-disable", secret=TO_DISABLE
        )
    )
    aws = create_aws_key(settings)
    port = free_port()
    log = data_dir / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {"PARLEY_ENGINE__KV_CELLS": "4096", "PARLEY_ENGINE__THREADS": "2"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--port", str(port),
             "--data-dir", str(data_dir)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            traffic(url, disabled.principal.key_id, aws.access_key_id, aws.secret_access_key)
        finally:
            process.terminate()
            process.wait(timeout=30)
    secrets = [API_KEY, OTHER_WORKSPACE_KEY, ADMIN_KEY, TO_DISABLE, LOOKALIKE]
    yield Session(url, [*secrets, aws.secret_access_key], log)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "parley serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("parley serve was not healthy in time")


def traffic(url: str, disabled_id: str, access_key: str, secret_key: str) -> None:
    client = anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0, timeout=60)
    client.messages.create(**BODY)  # type: ignore[call-overload]
    client.messages.count_tokens(model=MODEL, messages=BODY["messages"])  # type: ignore[arg-type]
    with client.messages.stream(**BODY | {"max_tokens": 64}) as stream:  # type: ignore[arg-type]
        next(iter(stream))  # and leave mid-stream
    with httpx.Client(base_url=url, timeout=60) as raw:
        bearer = {"authorization": f"Bearer {OTHER_WORKSPACE_KEY}"}
        assert raw.post("/v1/messages", json=BODY, headers=bearer).status_code == 200
        admin = {"x-api-key": ADMIN_KEY}
        assert raw.get("/v1/organizations/api_keys", headers=admin).status_code == 200
        assert raw.post("/v1/messages", json=BODY, headers=admin).status_code == 403
        off = raw.post(
            f"/v1/organizations/api_keys/{disabled_id}", json={"status": "inactive"}, headers=admin
        )
        assert off.status_code == 200
        for key in (TO_DISABLE, LOOKALIKE):
            refused = raw.post("/v1/messages", json=BODY, headers={"x-api-key": key})
            assert refused.status_code == 401
        ours = {"x-api-key": API_KEY}
        assert raw.post("/v1/messages", content=b"{not json", headers=ours).status_code == 400
        vertex = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/smollm2:rawPredict"
        vertex_body = {k: v for k, v in BODY.items() if k != "model"}
        vertex_body["anthropic_version"] = "vertex-2023-10-16"
        assert raw.post(vertex, json=vertex_body, headers=bearer).status_code == 200
    bedrock_body = json.dumps(vertex_body | {"anthropic_version": "bedrock-2023-05-31"})
    for secret in (secret_key, secret_key[::-1]):  # the second signs wrongly: 403
        runtime = boto3.client(
            "bedrock-runtime", region_name="us-east-1", endpoint_url=url,
            aws_access_key_id=access_key, aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        try:
            runtime.invoke_model(modelId="smollm2", body=bedrock_body)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidSignatureException"


def test_the_log_holds_no_secret_of_the_session(session: Session) -> None:
    log = session.log.read_text()
    assert "Parley serving at" in log
    for secret in session.secrets:
        assert secret not in log
        assert secret[-12:] not in log
