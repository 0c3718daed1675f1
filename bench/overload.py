"""Overload benchmark: many clients flood a `parley serve` with short requests for a while.

`--clients` concurrent clients (default 200) each send non-streaming `--max-tokens`-token
requests (default 16) back to back for `--seconds` (default 60); after a refusal (429 or 529) a
client waits `--backoff` seconds (jittered, as the SDKs do) before its next request. Reported:
the share of each status, p50/p99 latency of admitted requests and of refusals, the server's
peak RSS, and recovery: after the storm, how long until a request is answered about as fast as
the baseline before it (within 2x + 0.25 s), and that request's latency.

By default the script starts its own server (`python -m parley serve`, the default model, a
fresh data directory) so that it can read the server's memory; `--parley URL --key K --pid PID`
runs against one already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import server
from harness import check_loopback, machine_info, parley_headers, percentile, write_json

REFUSALS = ("429", "529")


def request_body(n: int, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "smollm2",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": f"Say one word about the number {n}."}],
    }


async def send(client: httpx.AsyncClient, url: str, n: int, max_tokens: int) -> tuple[str, float]:
    """One request: its outcome (the status, or what went wrong) and its latency."""
    sent = time.perf_counter()
    try:
        response = await client.post(f"{url}/v1/messages", json=request_body(n, max_tokens))
        outcome = str(response.status_code)
    except httpx.TimeoutException:
        outcome = "timeout"
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__  # the connection failed: how
    return outcome, time.perf_counter() - sent


def histogram(metrics: str, status: str) -> dict[float, float]:
    """Cumulative bucket counts of the server's own latency histogram for `status` on
    /v1/messages: upper bound (seconds) -> requests."""
    buckets: dict[float, float] = {}
    for line in metrics.splitlines():
        if not line.startswith("parley_request_seconds_bucket{"):
            continue
        labels, value = line.rsplit(" ", 1)
        if 'route="/v1/messages"' in labels and f'status="{status}"' in labels:
            bound = labels.split('le="')[1].split('"')[0]
            buckets[float(bound)] = buckets.get(float(bound), 0.0) + float(value)
    return buckets


def server_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket that holds quantile `q` of the requests
    between the two scrapes (the server's own view, without the client's queueing)."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    if total == 0:
        return float("nan")
    return next(bound for bound, count in counts.items() if count >= q * total)


async def storm(
    client: httpx.AsyncClient, url: str, args: argparse.Namespace
) -> list[tuple[str, float]]:
    results: list[tuple[str, float]] = []
    stop_at = time.monotonic() + args.seconds
    counter = iter(range(10**9))

    async def one_client() -> None:
        while time.monotonic() < stop_at:
            outcome, seconds = await send(client, url, next(counter), args.max_tokens)
            results.append((outcome, seconds))
            if outcome != "200":
                await asyncio.sleep(args.backoff * random.uniform(0.75, 1.25))

    await asyncio.gather(*(one_client() for _ in range(args.clients)))
    return results


async def recovery(
    client: httpx.AsyncClient, url: str, baseline: float, args: argparse.Namespace
) -> tuple[float, float]:
    """Seconds from the storm's end until a request is answered near the baseline speed, and
    that request's latency; (inf, the last latency) if none was within `--recovery-limit`."""
    ended = time.perf_counter()
    seconds = float("inf")
    while time.perf_counter() - ended < args.recovery_limit:
        outcome, seconds = await send(client, url, -1, args.max_tokens)
        if outcome == "200" and seconds <= 2 * baseline + 0.25:
            return time.perf_counter() - ended, seconds
        await asyncio.sleep(0.05)
    return float("inf"), seconds


async def run(args: argparse.Namespace, url: str, key: str, pid: int | None) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients + 4, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        headers=parley_headers(key), timeout=args.request_timeout, limits=limits
    ) as client:
        warm = [await send(client, url, -1, args.max_tokens) for _ in range(3)]
        if any(outcome != "200" for outcome, _ in warm):
            raise SystemExit(f"the server does not answer: {warm}")
        baseline = statistics.median(seconds for _, seconds in warm)
        rss_before = server.memory_kb(pid, "VmRSS") if pid else None
        scraped = (await client.get(f"{url}/metrics")).text
        server_cpu = server.cpu_seconds(pid) if pid else None
        client_cpu = time.process_time()
        results = await storm(client, url, args)
        client_cpu = time.process_time() - client_cpu
        if server_cpu is not None:
            server_cpu = (server.cpu_seconds(pid) or 0.0) - server_cpu
        metrics = (await client.get(f"{url}/metrics")).text
        recovered_after, recovered_latency = await recovery(client, url, baseline, args)
    counts = Counter(outcome for outcome, _ in results)
    admitted = [seconds for outcome, seconds in results if outcome == "200"]
    refused = [seconds for outcome, seconds in results if outcome in REFUSALS]
    total = len(results)
    server_side = {
        f"server_{status}_{name}_s": server_quantile(
            histogram(scraped, status), histogram(metrics, status), q
        )
        for status in ("200", "529")
        for name, q in (("p50", 0.5), ("p99", 0.99))
    }
    return {
        **server_side,
        "clients": args.clients,
        "seconds": args.seconds,
        "max_tokens": args.max_tokens,
        "backoff": args.backoff,
        "max_queue_wait_s": args.max_queue_wait,
        "requests": total,
        "statuses": dict(counts),
        "shares": {outcome: count / total for outcome, count in counts.items()},
        "admitted_p50_s": percentile(admitted, 50),
        "admitted_p99_s": percentile(admitted, 99),
        "admitted_max_s": max(admitted, default=float("nan")),
        "refused_p50_s": percentile(refused, 50),
        "refused_p99_s": percentile(refused, 99),
        "admitted_per_s": len(admitted) / args.seconds,
        "rss_before_mb": rss_before / 1024 if rss_before else None,
        "peak_rss_mb": (server.memory_kb(pid, "VmHWM") or 0) / 1024 if pid else None,
        "baseline_s": baseline,
        "recovery_s": recovered_after,
        "recovered_request_s": recovered_latency,
        # where the two cores went: the clients share them with the server
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
    }


def access_figures(log: Path) -> dict[str, Any]:
    """From the server's JSON access lines: time to first token and total time of the
    admitted requests of /v1/messages, p50 and p99 (the server's own view: how long the
    admitted waited for the engine, and how long they ran)."""
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    messages = [x for x in lines if x.get("type") == "access" and x["path"] == "/v1/messages"]
    admitted = [x for x in messages if x["status"] == 200]
    refused = [x["total_ms"] / 1000 for x in messages if x["status"] in (429, 529)]
    ttft = [x["ttft_ms"] / 1000 for x in admitted if x["ttft_ms"] is not None]
    total = [x["total_ms"] / 1000 for x in admitted]
    return {
        "server_admitted_ttft_p50_s": percentile(ttft, 50),
        "server_admitted_ttft_p99_s": percentile(ttft, 99),
        "server_admitted_total_p50_s": percentile(total, 50),
        "server_admitted_total_p99_s": percentile(total, 99),
        "server_refused_p50_s": percentile(refused, 50),
        "server_refused_p99_s": percentile(refused, 99),
    }


def report(result: dict[str, Any]) -> None:
    console = Console()
    title = (
        f"Overload: {result['clients']} clients, {result['seconds']:.0f} s, "
        f"{result['max_tokens']}-token requests, {result['backoff']} s back-off"
    )
    table = Table(title=title)
    table.add_column("outcome")
    table.add_column("requests", justify="right")
    table.add_column("share", justify="right")
    table.add_column("p50", justify="right")
    table.add_column("p99", justify="right")
    for outcome, count in sorted(result["statuses"].items()):
        p50 = p99 = ""
        if outcome == "200":
            p50, p99 = f"{result['admitted_p50_s']:.3f} s", f"{result['admitted_p99_s']:.3f} s"
        table.add_row(outcome, f"{count:,}", f"{result['shares'][outcome]:.1%}", p50, p99)
    console.print(table)
    summary = Table(title="Refusals, memory, recovery")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("refusals (429+529) p50", f"{result['refused_p50_s'] * 1000:.1f} ms")
    summary.add_row("refusals (429+529) p99", f"{result['refused_p99_s'] * 1000:.1f} ms")
    summary.add_row("admitted per second", f"{result['admitted_per_s']:.2f}")
    for name in ("ttft_p50", "ttft_p99", "total_p50", "total_p99"):
        value = result.get(f"server_admitted_{name}_s")
        if value is not None:
            summary.add_row(f"server-side 200 {name} (access log)", f"{value:.3f} s")
    for name in ("p50", "p99"):
        value = result.get(f"server_refused_{name}_s")
        if value is not None:
            summary.add_row(f"server-side refusals {name} (access log)", f"{value * 1000:.1f} ms")
    for who in ("server", "client"):
        if result[f"{who}_cpu_s"] is not None:
            per = result[f"{who}_cpu_s"] / max(1, result["requests"]) * 1000
            summary.add_row(
                f"{who} CPU during the storm",
                f"{result[f'{who}_cpu_s']:.1f} s ({per:.1f} ms/request)",
            )
    for status in ("200", "529"):
        for name in ("p50", "p99"):
            bound = result[f"server_{status}_{name}_s"]
            summary.add_row(f"server-side {status} {name} (bucket bound)", f"<= {bound:g} s")
    if result["peak_rss_mb"] is not None:
        summary.add_row("server RSS before the storm", f"{result['rss_before_mb']:.0f} MB")
        summary.add_row("server peak RSS", f"{result['peak_rss_mb']:.0f} MB")
    summary.add_row("baseline request", f"{result['baseline_s']:.3f} s")
    summary.add_row("recovery after the storm", f"{result['recovery_s']:.2f} s")
    summary.add_row("first normal request after it", f"{result['recovered_request_s']:.3f} s")
    console.print(summary)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--backoff", type=float, default=0.5, help="seconds after a refusal")
    parser.add_argument("--threads", type=int, default=2, help="engine threads of its server")
    parser.add_argument(
        "--max-queue-wait", type=float, default=None, help="its engine.max_queue_wait_s"
    )
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--recovery-limit", type=float, default=30.0)
    parser.add_argument("--parley", default=None, help="a running server's URL (loopback)")
    parser.add_argument("--key", default="", help="its API key")
    parser.add_argument("--pid", type=int, default=None, help="its process id (for memory)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/overload.json"))
    args = parser.parse_args(argv)
    if args.parley:
        check_loopback(args.parley)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.parley:
        result = asyncio.run(run(args, args.parley.rstrip("/"), args.key, args.pid))
    else:
        with tempfile.TemporaryDirectory(prefix="parley-overload-") as tmp:
            data_dir = Path(tmp)
            key = server.create_key(data_dir)
            port = server.free_port()
            log_path = data_dir / "server.log"
            with log_path.open("wb") as log:
                process = server.start(
                    data_dir,
                    port,
                    threads=args.threads,
                    env={"PARLEY_LOGGING__FORMAT": "json"}
                    | (
                        {}
                        if args.max_queue_wait is None
                        else {"PARLEY_ENGINE__MAX_QUEUE_WAIT_S": str(args.max_queue_wait)}
                    ),
                    log=log,
                )
                try:
                    url = f"http://127.0.0.1:{port}"
                    result = asyncio.run(run(args, url, key, process.pid))
                finally:
                    server.stop(process)
            result.update(access_figures(log_path))
    result["machine"] = machine_info(args.threads)
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
