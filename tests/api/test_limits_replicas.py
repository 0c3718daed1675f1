"""Two `parley serve` processes sharing one Redis and one database admit no more than the
organization's limit together."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import API_KEY, MODEL, free_port

pytestmark = pytest.mark.slow

CONFIG = """
limiter_url = "redis://127.0.0.1:6379/0"

[limits]
default_tier = "tiny"

[[limits.tiers]]
name = "tiny"

[limits.tiers.classes.default]
rpm = 10
itpm = 1000000
otpm = 100000

[engine]
threads = 1
kv_cells = 2048
max_sequences = 4
"""


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    data = tmp_path_factory.mktemp("replicas")
    config = data / "parley.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "keys",
            "create",
            "--data-dir",
            str(data),
            "--key",
            API_KEY,
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data),
                "--config",
                str(config),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 120
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the replicas did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def ask(url: str) -> int:
    body = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
    response = httpx.post(
        f"{url}/v1/messages", json=body, headers={"x-api-key": API_KEY}, timeout=60
    )
    return response.status_code


def test_two_replicas_together_admit_no_more_than_the_limit(replicas: list[str]) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(ask, [replicas[i % 2] for i in range(30)]))
    elapsed = time.monotonic() - started
    refilled = int(elapsed * 10 / 60) + 1  # what the bucket regained while the flood ran
    admitted = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert 10 <= admitted <= 10 + refilled
