"""What the benchmark scripts share: loopback-only URLs, Parley's request headers, server-sent
events, summary statistics, time bounds, and the machine record and JSON file of a run.

The scripts run as `python bench/<script>.py`, which puts `bench/` on their path, so they import
this module (and each other's helpers) by plain name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import statistics
import sys
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

T = TypeVar("T")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ANTHROPIC_VERSION = "2023-06-01"


def parley_headers(key: str) -> dict[str, str]:
    """The headers of every request to Parley's Messages API."""
    return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}


def check_loopback(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise SystemExit(f"refusing {url!r}: only http(s) URLs on a loopback host are allowed")
    return url.rstrip("/")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    """Yields (event name, data) pairs of a server-sent event stream."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


async def bounded(work: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise RuntimeError(f"{what} did not finish in {seconds:.0f} s") from None


def machine_info(threads: int) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "llama_cpp_python": _version("llama-cpp-python"),
    }


def write_json(path: Path, data: Any) -> None:
    """The run's raw numbers, beside the printed table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"wrote {path}")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
