"""A `parley serve` of the benchmark's own, as a subprocess on a fresh data directory: what
bench/overload.py and bench/crash.py run against, so they can read its memory and kill it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from parley.store.db import connect
from parley.store.keys import KeyStore

KEY = "sk-ant-api03-parley-bench-0123456789"


def create_key(data_dir: Path, secret: str = KEY) -> str:
    """The bench key in `data_dir`'s SQLite database; its secret."""
    store = KeyStore(connect(f"sqlite:///{data_dir / 'parley.db'}"))
    asyncio.run(store.create(name="bench", secret=secret))
    return secret


def start(
    data_dir: Path,
    port: int,
    *,
    threads: int,
    env: dict[str, str] | None = None,
    log: IO[bytes] | None = None,
    timeout: float = 180.0,
) -> subprocess.Popen[bytes]:
    """Starts `python -m parley serve` and returns once /healthz answers 200."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    environment.update({"PARLEY_ENGINE__THREADS": str(threads), **(env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log if log is not None else subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def memory_kb(pid: int, field: str) -> int | None:
    """A /proc/<pid>/status field in kB: VmRSS (now) or VmHWM (the peak so far)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used so far, user and system, all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
