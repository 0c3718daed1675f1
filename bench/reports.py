"""Reports benchmark: the usage report, the cost report and each console page of a busy
organization, timed against a real `parley serve` on SQLite and on PostgreSQL side by side.

For each database it writes `--rows` ledger rows (default 1,000,000) over 30 days for 20
workspaces, 50 keys and 3 models (bench/report_rows.py) into a database at the last migration
before the report indexes, so that starting the server upgrades it as a real upgrade would
(0007_report_indexes builds the covering index and the daily sums). Then it starts
`python -m parley serve` on it, signs in to the console with an admin key, and times each
request `--repeat` times. Target: under 500 ms each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from rich.console import Console
from rich.table import Table

from harness import machine_info, median, percentile, write_json
from parley.store.db import MIGRATIONS
from parley.store.keys import KeyStore
from report_rows import fill

ADMIN_KEY = "sk-ant-admin01-parley-bench-reports"
BEFORE = "0004_aws_credentials"  # the schema the rows are written into
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_MS = 500.0


def targets(now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, query) of each timed request."""
    month = (now - timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z")
    week = (now - timedelta(days=6)).strftime("%Y-%m-%dT00:00:00Z")  # a default page: 7 days
    usage = "/v1/organizations/usage_report/messages"
    return [
        ("usage report, 30 d, 1d", usage, {"starting_at": month, "limit": 31}),
        (
            "usage report, 30 d, 1d, by model+workspace",
            usage,
            {"starting_at": month, "limit": 31, "group_by[]": ["model", "workspace_id"]},
        ),
        (
            "usage report, 7 d, 1d, by key+model+tier",
            usage,
            {"starting_at": week, "group_by[]": ["api_key_id", "model", "service_tier"]},
        ),
        (
            "usage report, 24 h, 1h, by key",
            usage,
            {
                "starting_at": (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:00:00Z"),
                "bucket_width": "1h",
                "group_by[]": ["api_key_id"],
            },
        ),
        ("cost report, 30 d", "/v1/organizations/cost_report", {"starting_at": month, "limit": 31}),
        (
            "cost report, 7 d, by workspace+description",
            "/v1/organizations/cost_report",
            {"starting_at": week, "group_by[]": ["workspace_id", "description"]},
        ),
        ("console usage, 7 d / 1d", "/console/usage", {"range": "7d", "bucket": "1d"}),
        ("console usage, 30 d / 1d", "/console/usage", {"range": "30d", "bucket": "1d"}),
        ("console usage, 24 h / 1h", "/console/usage", {"range": "24h", "bucket": "1h"}),
        ("console usage, 7 d / 1h", "/console/usage", {"range": "7d", "bucket": "1h"}),
        ("console usage CSV, 30 d / 1d", "/console/usage.csv", {"range": "30d", "bucket": "1d"}),
        ("console limits", "/console/limits", {}),
        ("console keys", "/console/keys", {}),
        ("console cache", "/console/cache", {}),
        ("console models", "/console/models", {}),
    ]


@contextmanager
def database(kind: str, folder: Path) -> Any:
    """A database URL of `kind`: a file in `folder`, or a PostgreSQL schema of this run."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'parley.db'}"
        return
    schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(url: str, rows: int) -> float:
    """The schema as it was before the report indexes, an admin key, and the rows; seconds."""
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, BEFORE)
    created = asyncio.run(KeyStore(engine).create(name="bench", admin=True, secret=ADMIN_KEY))
    started = time.monotonic()
    fill(engine, created.principal.organization_id, rows)
    engine.dispose()
    return time.monotonic() - started


@contextmanager
def server(url: str, folder: Path, port: int) -> Any:
    """`parley serve` on the database (its start-up migrates it); yields its URL and the
    seconds the start took."""
    env = {**os.environ, "PARLEY_DATABASE_URL": url, "PARLEY_DATA_DIR": str(folder)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"parley serve exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield base, time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=60)


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120, headers={"x-api-key": ADMIN_KEY})
    page = client.get("/console/sign-in").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/console/sign-in", data={"key": ADMIN_KEY, "csrf": csrf})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    return client


def timed(client: httpx.Client, path: str, query: dict[str, Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path, params=query)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
    return times


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"parley-bench-{kind}-") as scratch:
        folder = Path(scratch)
        with database(kind, folder) as url:
            filled = prepare(url, args.rows)
            with server(url, folder, args.port) as (base, start_seconds):
                client = signed_in(base)
                now = datetime.now(UTC)
                results = {}
                for name, path, query in targets(now):
                    times = timed(client, path, query, args.repeat)
                    results[name] = {
                        "median_ms": median(times),
                        "p95_ms": percentile(times, 95),
                        "max_ms": max(times),
                        "runs_ms": times,
                    }
                client.close()
    return {"fill_seconds": filled, "start_seconds": start_seconds, "requests": results}


def report(result: dict[str, Any]) -> None:
    kinds = list(result["databases"])
    table = Table(
        title=f"Reports on {result['rows']:,} ledger rows (median / max of {result['repeat']}, ms)"
    )
    table.add_column("request")
    for kind in kinds:
        table.add_column(kind, justify="right")
    names = list(result["databases"][kinds[0]]["requests"])
    for name in names:
        cells = []
        for kind in kinds:
            figures = result["databases"][kind]["requests"][name]
            mark = "" if figures["median_ms"] < TARGET_MS else " *"
            cells.append(f"{figures['median_ms']:.0f} / {figures['max_ms']:.0f}{mark}")
        table.add_row(name, *cells)
    console = Console()
    console.print(table)
    console.print(f"* median over the {TARGET_MS:.0f} ms target")
    for kind in kinds:
        figures = result["databases"][kind]
        console.print(
            f"{kind}: rows written in {figures['fill_seconds']:.0f} s; server start with the "
            f"0007 upgrade {figures['start_seconds']:.0f} s"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--out", type=Path, default=Path("bench/results/reports.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result: dict[str, Any] = {"rows": args.rows, "repeat": args.repeat, "databases": {}}
    for kind in args.databases.split(","):
        result["databases"][kind] = run_one(kind, args)
    result["machine"] = machine_info(0)
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
