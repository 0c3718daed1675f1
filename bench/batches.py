"""Message Batches benchmark, against a running `parley serve` (its batch worker on).

(a) `--requests` short questions about one ~4,000-token document (a `cache_control` system
prompt): wall time of the same requests sent one by one, 8 at a time, and as one batch, each
mode over a document of its own (a cold prefix), side by side; and how many prompt tokens each
mode wrote to the cache (the batch should compute its prefix once).
(b) interactive time to first token (streaming) of a steady trickle of requests with no
batch running, then while a large batch runs: p50 and p99, and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, median, parley_headers, percentile, write_json
from pseudotext import pseudo_text, question


def body(args: argparse.Namespace, document: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": args.model,
        "max_tokens": args.max_tokens,
        "temperature": 0,
        "system": [{"type": "text", "text": document, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": question(1 + n % 50)}],
    } | extra


async def one_by_one(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[Any]:
    return [await post(client, b) for b in bodies]


async def at_a_time(client: httpx.AsyncClient, bodies: list[dict[str, Any]], n: int) -> list[Any]:
    gate = asyncio.Semaphore(n)

    async def send(b: dict[str, Any]) -> Any:
        async with gate:
            return await post(client, b)

    return list(await asyncio.gather(*(send(b) for b in bodies)))


async def post(client: httpx.AsyncClient, payload: dict[str, Any]) -> Any:
    for _ in range(100):
        response = await client.post("/v1/messages", json=payload)
        if response.status_code not in (429, 529):
            response.raise_for_status()
            return response.json()["usage"]
        await asyncio.sleep(0.2)
    raise RuntimeError("the server stayed overloaded")


async def as_batch(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[Any]:
    requests = [{"custom_id": f"r{i}", "params": b} for i, b in enumerate(bodies)]
    created = (await client.post("/v1/messages/batches", json={"requests": requests})).json()
    batch = await wait_ended(client, created["id"])
    results = await client.get(f"/v1/messages/batches/{batch['id']}/results")
    lines = [json.loads(line)["result"] for line in results.text.splitlines()]
    failed = [r for r in lines if r["type"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} batch requests failed, e.g. {failed[0]}")
    return [r["message"]["usage"] for r in lines]


async def wait_ended(client: httpx.AsyncClient, batch_id: str) -> Any:
    while True:
        batch = (await client.get(f"/v1/messages/batches/{batch_id}")).json()
        if batch["processing_status"] == "ended":
            return batch
        await asyncio.sleep(0.1)


def written(usages: list[Any]) -> int:
    return sum(u["cache_creation_input_tokens"] for u in usages)


async def part_a(client: httpx.AsyncClient, args: argparse.Namespace) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    modes: dict[str, Any] = {
        "one_by_one": lambda bodies: one_by_one(client, bodies),
        "8_at_a_time": lambda bodies: at_a_time(client, bodies, 8),
        "batch": lambda bodies: as_batch(client, bodies),
    }
    out: dict[str, Any] = {}
    for name, mode in modes.items():
        document = pseudo_text(f"{run}-{name}", args.sentences)
        bodies = [body(args, document, n) for n in range(args.requests)]
        started = time.perf_counter()
        usages = await mode(bodies)
        wall = time.perf_counter() - started
        out[name] = {"wall_s": wall, "cache_written_tokens": written(usages)}
        prompt = usages[0]["input_tokens"] + usages[0]["cache_creation_input_tokens"]
        out[name]["prompt_tokens"] = prompt + usages[0]["cache_read_input_tokens"]
        print(f"(a) {name}: {out[name]}", flush=True)  # progress on a slow machine
    return out


async def ttft(client: httpx.AsyncClient, args: argparse.Namespace, n: int) -> float:
    payload = {
        "model": args.model,
        "max_tokens": 4,
        "stream": True,
        "messages": [{"role": "user", "content": f"Say hello to number {n}."}],
    }
    started = time.perf_counter()
    first: float | None = None
    lines: list[str] = []
    async with client.stream("POST", "/v1/messages", json=payload) as response:
        async for line in response.aiter_lines():  # read to the end: the request completes
            lines.append(line)
            # the first generated token opens a block or, for an empty answer, ends the message
            if first is None and line.startswith(("event: content_block", "event: message_delta")):
                first = time.perf_counter() - started
    if response.status_code != 200 or first is None:
        body = " ".join(lines)[:200]
        raise RuntimeError(f"interactive request {n}: HTTP {response.status_code} {body}")
    return first


async def trickle(client: httpx.AsyncClient, args: argparse.Namespace) -> list[float]:
    tasks = []
    for n in range(args.trickle):
        tasks.append(asyncio.ensure_future(ttft(client, args, n)))
        await asyncio.sleep(args.interval)
    return list(await asyncio.gather(*tasks))


async def part_b(client: httpx.AsyncClient, args: argparse.Namespace) -> dict[str, Any]:
    quiet = await trickle(client, args)
    print(f"(b) no batch: {sorted(quiet)}", flush=True)
    document = pseudo_text(f"{uuid.uuid4().hex[:8]}-load", args.sentences)
    requests = [
        {"custom_id": f"b{i}", "params": body(args, document, i, max_tokens=args.batch_max_tokens)}
        for i in range(args.batch_size)
    ]
    created = (await client.post("/v1/messages/batches", json={"requests": requests})).json()
    await asyncio.sleep(2)  # the batch under way
    loaded = await trickle(client, args)
    await client.post(f"/v1/messages/batches/{created['id']}/cancel")
    await wait_ended(client, created["id"])
    return {
        "no_batch": {"p50_s": median(quiet), "p99_s": percentile(quiet, 99), "n": len(quiet)},
        "batch_running": {
            "p50_s": median(loaded),
            "p99_s": percentile(loaded, 99),
            "n": len(loaded),
        },
    }


def report(result: dict[str, Any]) -> None:
    console = Console()
    if "a" in result:
        report_a(console, result["a"])
    if "b" in result:
        report_b(console, result["b"])


def report_a(console: Console, a: dict[str, Any]) -> None:
    table = Table("(a) mode", "wall s", "x one-by-one", "prompt tokens", "cache written")
    for name, row in a.items():
        table.add_row(
            name,
            f"{row['wall_s']:.1f}",
            f"{a['one_by_one']['wall_s'] / row['wall_s']:.2f}",
            str(row["prompt_tokens"]),
            str(row["cache_written_tokens"]),
        )
    console.print(table)


def report_b(console: Console, b: dict[str, Any]) -> None:
    table = Table("(b) interactive TTFT", "p50 ms", "p99 ms", "requests")
    for name, row in b.items():
        table.add_row(
            name, f"{row['p50_s'] * 1000:.0f}", f"{row['p99_s'] * 1000:.0f}", str(row["n"])
        )
    console.print(table)
    ratio = b["batch_running"]["p50_s"] / b["no_batch"]["p50_s"]
    console.print(f"p50 with a batch running / without: {ratio:.2f}x")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=args.parley, headers=parley_headers(args.key), timeout=args.request_timeout
    ) as client:
        result = {}
        if "a" in args.parts:
            result["a"] = await part_a(client, args)
        if "b" in args.parts:
            result["b"] = await part_b(client, args)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", default="http://127.0.0.1:8787", help="loopback base URL")
    parser.add_argument("--key", required=True, help="Parley API key")
    parser.add_argument("--model", default="smollm2-135m-instruct-20250207")
    parser.add_argument("--parts", default="ab", help="a, b or ab")
    parser.add_argument("--requests", type=int, default=200, help="(a) questions per mode")
    parser.add_argument("--sentences", type=int, default=138, help="document length (~4k tokens)")
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--trickle", type=int, default=40, help="(b) interactive requests")
    parser.add_argument("--interval", type=float, default=0.5, help="(b) seconds between them")
    parser.add_argument("--batch-size", type=int, default=400, help="(b) the background batch")
    parser.add_argument("--batch-max-tokens", type=int, default=32)
    parser.add_argument("--request-timeout", type=float, default=600.0)
    parser.add_argument("--threads", type=int, default=0, help="the server's, for the record")
    parser.add_argument("--out", type=Path, default=Path("bench/results/batches.json"))
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    args.parley = check_loopback(args.parley)
    result = {**asyncio.run(main_async(args)), "args": vars(args) | {"out": str(args.out)}}
    report(result)
    write_json(args.out, {**result, "machine": machine_info(args.threads)})


if __name__ == "__main__":
    main()
