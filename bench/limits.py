"""Rate-limit benchmark: how exactly a flood is held to the configured limit, and how many
admission decisions per second each limiter backend makes.

1. Flood: `--clients` concurrent clients send short requests to a running `parley serve` whose
   tier limits input tokens per minute (see bench/README.md for the config). The bucket starts
   full, so the first `--warmup` seconds drain it; the input tokens of the requests admitted in
   the following 60 seconds are compared with the configured ITPM.
2. Decisions per second: `admit` calls on the in-process backend and on the Redis one (a real
   Redis, `--redis`), each for `--decisions` calls from `--clients` concurrent tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, parley_headers, write_json
from parley.domain.buckets import Charge
from parley.domain.ports import LimiterBackend
from parley.limits.memory import MemoryLimiter
from parley.limits.redis import RedisLimiter


async def flood(args: argparse.Namespace) -> dict[str, Any]:
    body = {
        "model": args.model,
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "Say one word about the sea. " * 20}],
    }
    headers = parley_headers(args.key)
    admitted: list[tuple[float, int]] = []
    refused = 0
    started = time.monotonic()
    stop_at = started + args.warmup + 60.0
    async with httpx.AsyncClient(timeout=args.request_timeout) as client:
        prompt = await client.post(
            f"{args.parley}/v1/messages/count_tokens",
            json={k: v for k, v in body.items() if k != "max_tokens"},
            headers=headers,
        )
        prompt_tokens = int(prompt.json()["input_tokens"])

        async def one_client() -> None:
            nonlocal refused
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                response = await client.post(
                    f"{args.parley}/v1/messages", json=body, headers=headers
                )
                if response.status_code == 200:
                    usage = response.json()["usage"]
                    admitted.append(
                        (sent, usage["input_tokens"] + usage["cache_creation_input_tokens"])
                    )
                elif response.status_code == 429:
                    refused += 1
                    wait = float(response.headers.get("retry-after", "1"))
                    await asyncio.sleep(min(wait, max(0.0, stop_at - time.monotonic())))
                else:
                    response.raise_for_status()

        await asyncio.gather(*(one_client() for _ in range(args.clients)))
    window_start = started + args.warmup
    in_window = sum(tokens for sent, tokens in admitted if sent >= window_start)
    return {
        "clients": args.clients,
        "prompt_tokens": prompt_tokens,
        "itpm_limit": args.itpm,
        "admitted_requests": len(admitted),
        "refused_requests": refused,
        "window_admitted_input_tokens": in_window,
        "window_ratio": in_window / args.itpm,
    }


async def decisions(backend: LimiterBackend, args: argparse.Namespace, org: str) -> float:
    per_task = args.decisions // args.clients
    charges = [
        Charge(f"bench:{org}:rpm", 10**9, 1),
        Charge(f"bench:{org}:itpm", 10**12, 500),
        Charge(f"bench:{org}:otpm", 10**12, 1),
    ]

    async def task() -> None:
        for _ in range(per_task):
            await backend.admit(charges, time.time())

    started = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(args.clients)))
    return float(per_task * args.clients / (time.perf_counter() - started))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if args.parley:
        result["flood"] = await flood(args)
    memory = MemoryLimiter()
    redis = RedisLimiter(args.redis, prefix=f"parley-bench:{time.time_ns()}:")
    try:
        result["decisions_per_second"] = {
            "memory": await decisions(memory, args, "memory"),
            "redis": await decisions(redis, args, "redis"),
        }
    finally:
        await redis.close()
    return result


def report(result: dict[str, Any]) -> None:
    console = Console()
    if "flood" in result:
        flood_result = result["flood"]
        table = Table(title=f"Flood: {flood_result['clients']} clients, 60 s after the warm-up")
        for column in ("ITPM limit", "admitted input tokens", "ratio", "admitted", "429s"):
            table.add_column(column, justify="right")
        table.add_row(
            f"{flood_result['itpm_limit']:,}",
            f"{flood_result['window_admitted_input_tokens']:,}",
            f"{flood_result['window_ratio']:.4f}",
            str(flood_result["admitted_requests"]),
            str(flood_result["refused_requests"]),
        )
        console.print(table)
    rates = result["decisions_per_second"]
    table = Table(title="Admission decisions per second (3 buckets each)")
    table.add_column("backend")
    table.add_column("decisions/s", justify="right")
    table.add_column("vs in-process", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.0f}", f"{rate / rates['memory']:.3f}x")
    console.print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", default=None, help="Parley base URL for the flood (loopback)")
    parser.add_argument("--key", default="", help="Parley API key")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--itpm", type=int, default=30_000, help="the server's configured ITPM")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/limits.json"))
    args = parser.parse_args(argv)
    if args.parley:
        check_loopback(args.parley)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    result["machine"] = machine_info(0)
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
