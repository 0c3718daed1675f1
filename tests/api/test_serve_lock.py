"""`parley serve` refuses to start a second process on the SQLite database of one data
directory, and says which settings make replicas possible."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.slow


def serve(data: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "parley", "serve", "--port", str(port), "--data-dir", str(data)]


def test_a_second_serve_on_one_data_directory_exits_with_the_replica_settings(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["COLUMNS"] = "1000"  # the message on one line
    lock = tmp_path / "parley.db.serve.lock"
    first = subprocess.Popen(
        serve(tmp_path, free_port()), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "no lock was taken"
            time.sleep(0.1)
        second = subprocess.run(
            serve(tmp_path, free_port()), env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert second.returncode == 1
    said = " ".join(second.stdout.split())
    assert f"another `parley serve` (pid {first.pid}) already serves the SQLite database" in said
    for variable in ("PARLEY_DATABASE_URL", "PARLEY_LIMITER_URL", "PARLEY_CACHE_REGISTRY_URL"):
        assert variable in said
