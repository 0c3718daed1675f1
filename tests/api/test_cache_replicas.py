"""Two `parley serve` processes sharing PostgreSQL and Redis (rate limits and the prompt-cache
registry) bill the same request sequence, sent to them in turn, exactly as one process would:
the same cache reads and writes, TTL expiry included, and no workspace reads another's entry.

Both processes read the time through a `sitecustomize` that adds a skew, kept in a file, to
`time.time()`: the test moves their clocks together, so TTLs pass without waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import cached, manual
from tests.helpers import API_KEY, MODEL, OTHER_WORKSPACE_KEY, free_port
from tests.postgres import postgres_schema

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
limiter_url = "redis://127.0.0.1:6379/0"
cache_registry_url = "redis://127.0.0.1:6379/0"

[engine]
threads = 1
kv_cells = 4096
max_sequences = 2
"""

SKEWED_CLOCK = """
import os
import time

_wall = time.time
_skew_file = os.environ["CLOCK_SKEW_FILE"]


def _skewed() -> float:
    with open(_skew_file) as skew:
        return _wall() + float(skew.read() or 0)


time.time = _skewed
"""


@dataclass
class Replicas:
    urls: list[str]
    skew_file: Path

    def advance(self, seconds: float) -> None:
        skew = float(self.skew_file.read_text() or 0)
        self.skew_file.write_text(repr(skew + seconds))


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    data = tmp_path_factory.mktemp("cache-replicas")
    (data / "parley.toml").write_text(CONFIG)
    (data / "sitecustomize.py").write_text(SKEWED_CLOCK)
    skew_file = data / "skew"
    skew_file.write_text("0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(data), str(ROOT), env.get("PYTHONPATH", "")])
    env["CLOCK_SKEW_FILE"] = str(skew_file)
    with postgres_schema() as database_url:
        env["PARLEY_DATABASE_URL"] = database_url
        common = ["--data-dir", str(data), "--config", str(data / "parley.toml")]
        parley = [sys.executable, "-m", "parley"]
        for key, workspace in ((API_KEY, "default"), (OTHER_WORKSPACE_KEY, "other")):
            subprocess.run(
                [*parley, "keys", "create", "--key", key, "--workspace", workspace, *common],
                check=True,
                capture_output=True,
                env=env,
                timeout=120,
            )
        ports = [free_port(), free_port()]
        processes = [
            subprocess.Popen(
                [*parley, "serve", "--port", str(port), *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port in ports
        ]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            _wait_ready(urls)
            yield Replicas(urls, skew_file)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


def _wait_ready(urls: list[str]) -> None:
    deadline = time.monotonic() + 180
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the replicas did not start"
            time.sleep(0.2)


def usage(url: str, edition: str, *, ttl: str | None = None, key: str = API_KEY) -> list[int]:
    """(cache writes, cache reads) of one request whose system prompt is cached."""
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1,
        "system": [cached(manual(edition), ttl)],
        "messages": [{"role": "user", "content": "Which valve?"}],
    }
    response = httpx.post(f"{url}/v1/messages", json=body, headers={"x-api-key": key}, timeout=120)
    assert response.status_code == 200, response.text
    counts = response.json()["usage"]
    return [counts["cache_creation_input_tokens"], counts["cache_read_input_tokens"]]


def sequence(replicas: Replicas, edition: str, targets: list[str]) -> list[list[int]]:
    """One request sequence, the i-th request to targets[i % len]: write, read, a read within
    the refreshed 5 minutes, a write once they passed, a 1-hour entry read 50 minutes on."""
    url = cycle(targets).__next__
    seen = [usage(url(), edition), usage(url(), edition)]
    replicas.advance(250)
    seen.append(usage(url(), edition))
    replicas.advance(400)
    seen.append(usage(url(), edition))
    seen.append(usage(url(), edition + "-long", ttl="1h"))
    replicas.advance(3000)
    seen.append(usage(url(), edition + "-long", ttl="1h"))
    return seen


def test_requests_sent_in_turn_to_two_replicas_are_billed_as_by_one(replicas: Replicas) -> None:
    a, b = replicas.urls
    alternating = sequence(replicas, "alternating", [a, b])
    written, long_written = alternating[0][0], alternating[4][0]
    assert written > 0 and long_written > 0
    assert alternating == [
        [written, 0],
        [0, written],
        [0, written],
        [written, 0],
        [long_written, 0],
        [0, long_written],
    ]
    assert sequence(replicas, "single", [a]) == alternating


def test_another_workspace_reads_no_entry_written_through_the_other_replica(
    replicas: Replicas,
) -> None:
    a, b = replicas.urls
    written, read = usage(a, "isolated")
    assert read == 0
    assert usage(b, "isolated", key=OTHER_WORKSPACE_KEY) == [written, 0]
    assert usage(a, "isolated", key=OTHER_WORKSPACE_KEY) == [0, written]
    assert usage(b, "isolated") == [0, written]


def test_diagnostics_name_a_message_that_the_other_replica_answered(replicas: Replicas) -> None:
    a, b = replicas.urls
    headers = {"x-api-key": API_KEY}
    question = [{"role": "user", "content": "Name a colour."}]
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1,
        "system": "Terse.",
        "messages": question,
    }
    first = httpx.post(f"{a}/v1/messages", json=body, headers=headers, timeout=120).json()
    changed = {**body, "system": "Verbose.", "diagnostics": {"previous_message_id": first["id"]}}
    later = httpx.post(f"{b}/v1/messages", json=changed, headers=headers, timeout=120).json()
    assert later["diagnostics"]["cache_miss_reason"]["type"] == "system_changed"
