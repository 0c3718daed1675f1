"""Scale-out benchmark: Parley in front of two llama-server replicas, side by side in one run.

1. Routing: 8 tenants (one workspace each) with distinct ~2,000-token cached prefixes, over 2
   replicas, once with prefix-aware routing and once with round-robin, each on fresh replicas:
   prefix hit rate (requests whose replica reused their whole cached prefix, as the replicas
   report it) and TTFT p50/p99. Each replica keeps 4 slots and no host-RAM prompt cache, so it
   can hold half the tenants' prefixes: where the routing decides who hits.
2. Gateway overhead: the same one-token request through Parley (remote engine) and straight to
   llama-server's /completion with the same token ids, alternating; the p50 difference is what
   the gateway adds per request.

Run from the repository root (it builds llama-server once, see tests/llama_server_build.py):
    PYTHONPATH=$PWD .venv/bin/python bench/scale.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import machine_info, median, parley_headers, percentile, sse_events, write_json
from parley.domain.prompt import ModelAbilities, build_conversation
from parley.engine.llama.prompting import PromptRenderer
from parley.engine.llama.vocab import GgufVocabulary
from parley.wire.messages import MessageParam
from pseudotext import pseudo_text, question
from tests.helpers import free_port
from tests.llama_servers import LlamaServer, packaged_gguf

MODEL = "smollm2-135m-instruct-20250207"
MODES = ("prefix", "round-robin")


@dataclass(frozen=True)
class Tenant:
    key: str
    prefix: str


def tenants(count: int, sentences: int, salt: str) -> list[Tenant]:
    return [
        Tenant(f"sk-bench-scale-{n:02d}-0123456789", pseudo_text(f"tenant-{salt}-{n}", sentences))
        for n in range(count)
    ]


@contextlib.contextmanager
def replicas(count: int, logs: Path, slots: int, ctx: int) -> Iterator[list[LlamaServer]]:
    servers = [LlamaServer(logs / f"replica-{n}.log", slots=slots, ctx=ctx) for n in range(count)]
    for server in servers:
        server.command += ["--cache-ram", "0"]  # only the slots' KV: each holds one prefix
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


@contextlib.contextmanager
def gateway(data: Path, urls: list[str], routing: str, keys: list[Tenant]) -> Iterator[str]:
    """`parley serve` as its own process, the model behind the replicas at `urls`."""
    data.mkdir(parents=True, exist_ok=True)
    config = data / "parley.toml"
    config.write_text(
        "default_model = false\n"
        f"[remote]\nrouting = {json.dumps(routing)}\n"
        "[[models]]\n"
        f"id = {json.dumps(MODEL)}\n"
        'backend = "llama-server"\n'
        f"urls = {json.dumps(urls)}\n"
        f"gguf = {json.dumps(str(packaged_gguf()))}\n"
        "context_window = 8192\nmin_cache_tokens = 512\n"
        # limits that the benchmark's requests never reach: it measures routing, not 429s
        '[limits]\ndefault_tier = "bench"\n[[limits.tiers]]\nname = "bench"\n'
        "[limits.tiers.classes.default]\nrpm = 1000000\nitpm = 100000000\notpm = 100000000\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    base = [sys.executable, "-m", "parley"]
    common = ["--data-dir", str(data), "--config", str(config)]
    for n, tenant in enumerate(keys):
        subprocess.run(
            [*base, "keys", "create", *common, "--workspace", f"tenant-{n}", "--key", tenant.key],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    process = subprocess.Popen(
        [*base, "serve", *common, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data / "parley.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"parley did not start; see {data / 'parley.log'}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def metric_sum(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.MULTILINE))


async def ask(client: httpx.AsyncClient, url: str, tenant: Tenant, number: int) -> float:
    """One streamed question on the tenant's cached prefix; its TTFT in seconds."""
    body = {
        "model": MODEL,
        "max_tokens": 4,
        "temperature": 0.0,
        "stream": True,
        "system": [{"type": "text", "text": tenant.prefix, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": question(number)}],
    }
    started = time.perf_counter()
    ttft = None
    async with client.stream(
        "POST", f"{url}/v1/messages", json=body, headers=parley_headers(tenant.key)
    ) as response:
        response.raise_for_status()
        async for event, _ in sse_events(response):
            if event == "content_block_delta" and ttft is None:
                ttft = time.perf_counter() - started
    if ttft is None:
        raise RuntimeError("a question produced no text")
    return ttft


async def routing_run(args: argparse.Namespace, routing: str, work: Path) -> dict[str, Any]:
    keys = tenants(args.tenants, args.prefix_sentences, args.salt)
    slots_ctx = args.slots * (args.prefix_tokens_room)
    with (
        replicas(2, work / "logs", args.slots, slots_ctx) as servers,
        gateway(work / "data", [s.url for s in servers], routing, keys) as url,
    ):
        async with httpx.AsyncClient(timeout=args.request_timeout) as client:
            gate = asyncio.Semaphore(args.concurrency)

            async def one(tenant: Tenant, number: int) -> float:
                async with gate:
                    return await ask(client, url, tenant, number)

            # warm-up: each prefix computed once somewhere
            await asyncio.gather(*(one(tenant, 0) for tenant in keys))
            before = (await client.get(f"{url}/metrics")).text
            order = [(t, r) for r in range(1, args.rounds + 1) for t in keys]
            random.Random(args.salt).shuffle(order)
            ttfts = await asyncio.gather(*(one(t, n) for t, n in order))
            after = (await client.get(f"{url}/metrics")).text
    requests = metric_sum(after, "parley_replica_requests_total") - metric_sum(
        before, "parley_replica_requests_total"
    )
    hits = metric_sum(after, "parley_replica_prefix_hits_total") - metric_sum(
        before, "parley_replica_prefix_hits_total"
    )
    return {
        "routing": routing,
        "requests": int(requests),
        "prefix_hits": int(hits),
        "hit_rate": hits / requests if requests else 0.0,
        "ttft_p50_s": median(ttfts),
        "ttft_p99_s": percentile(ttfts, 99),
        "ttft_s": ttfts,
    }


def prompt_ids(text: str) -> list[int]:
    """The token ids Parley sends for a one-message request, rendered as it renders them."""
    vocab = GgufVocabulary(packaged_gguf())
    try:
        message = MessageParam.model_validate({"role": "user", "content": text})
        conversation = build_conversation(None, [message], ModelAbilities())
        return PromptRenderer(vocab).render(conversation, block_ends=False).tokens
    finally:
        vocab.close()


async def overhead_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    text = "Say one word."
    ids = prompt_ids(text)
    keys = tenants(1, 1, args.salt)
    with (
        replicas(1, work / "logs", 1, 4096) as servers,
        gateway(work / "data", [servers[0].url], "prefix", keys) as url,
    ):
        direct_body = {
            "prompt": ids,
            "n_predict": 1,
            "stream": True,
            "cache_prompt": True,
            "return_tokens": True,
            "temperature": 0.0,
        }
        body = {"model": MODEL, "max_tokens": 1, "temperature": 0.0}
        body["messages"] = [{"role": "user", "content": text}]
        through, direct = [], []
        async with httpx.AsyncClient(timeout=args.request_timeout) as client:
            for n in range(args.overhead_samples + 3):
                started = time.perf_counter()
                answer = await client.post(
                    f"{url}/v1/messages", json=body, headers=parley_headers(keys[0].key)
                )
                answer.raise_for_status()
                middle = time.perf_counter()
                async with client.stream(
                    "POST", f"{servers[0].url}/completion", json=direct_body
                ) as response:
                    async for _ in response.aiter_lines():
                        pass
                ended = time.perf_counter()
                if n >= 3:  # the first few warm both paths
                    through.append(middle - started)
                    direct.append(ended - middle)
    return {
        "prompt_tokens": len(ids),
        "samples": len(through),
        "gateway_p50_ms": median(through) * 1000,
        "direct_p50_ms": median(direct) * 1000,
        "overhead_p50_ms": (median(through) - median(direct)) * 1000,
        "paired_overhead_p50_ms": median([t - d for t, d in zip(through, direct, strict=True)])
        * 1000,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"routing": {}}
    for routing in MODES:
        with tempfile.TemporaryDirectory(prefix=f"scale-{routing}-") as work:
            results["routing"][routing] = await routing_run(args, routing, Path(work))
    with tempfile.TemporaryDirectory(prefix="scale-overhead-") as work:
        results["overhead"] = await overhead_run(args, Path(work))
    return results


def report(result: dict[str, Any]) -> None:
    prefix, rr = result["routing"]["prefix"], result["routing"]["round-robin"]
    measured = len(prefix["ttft_s"])
    table = Table(title=f"{measured} measured requests per mode, 2 llama-server replicas")
    table.add_column("measure")
    table.add_column("prefix-aware", justify="right")
    table.add_column("round-robin", justify="right")
    table.add_column("round-robin / prefix-aware", justify="right")
    table.add_row(
        "prefix hit rate",
        f"{prefix['hit_rate']:.1%}",
        f"{rr['hit_rate']:.1%}",
        "",
    )
    for name in ("ttft_p50_s", "ttft_p99_s"):
        table.add_row(
            f"TTFT {name.split('_')[1]} (s)",
            f"{prefix[name]:.3f}",
            f"{rr[name]:.3f}",
            f"{rr[name] / prefix[name]:.2f}x",
        )
    over = result["overhead"]
    table.add_row(
        "one-token request p50 (ms): via Parley / direct",
        f"{over['gateway_p50_ms']:.2f}",
        f"{over['direct_p50_ms']:.2f}",
        f"overhead {over['overhead_p50_ms']:.2f} ms (paired {over['paired_overhead_p50_ms']:.2f})",
    )
    Console().print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--prefix-sentences", type=int, default=70, help="~2,000 tokens")
    parser.add_argument("--prefix-tokens-room", type=int, default=2560, help="KV cells per slot")
    parser.add_argument("--slots", type=int, default=4, help="slots per replica")
    parser.add_argument("--rounds", type=int, default=4, help="questions per tenant, measured")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--overhead-samples", type=int, default=50)
    parser.add_argument("--salt", default="scale")
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    result["machine"] = machine_info(1)
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
