"""Prompt-caching benchmark: a ~6,000-token manual cached once, then short questions about it.

Against a running `parley serve`, three ways of sending the same 20 questions:
- *cache_control*: the manual is a system block with a breakpoint; the first request writes the
  cache, the others read it;
- *cold*: no breakpoint, and a different first line each time, so nothing can be reused: what
  every request costs without caching (a few samples; their mean stands for all 20);
- *no cache_control, same manual*: no breakpoint but the same text, which Parley's engine still
  reuses physically: fast, and billed at the full input price.

Per-request TTFT (time to the first text delta of a stream) and input cost in base-input-token
units (cache writes x1.25, reads x0.1, from the usage the server reported) are printed side by
side with the cost the price multipliers predict. Run `python bench/caching.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, parley_headers, sse_events, write_json
from pseudotext import pseudo_text, question

WRITE_5M = Decimal("1.25")
READ = Decimal("0.1")


@dataclass(frozen=True)
class Sample:
    ttft_s: float
    input_tokens: int
    cache_creation: int
    cache_read: int

    @property
    def cost(self) -> Decimal:
        """Input cost in base-input-token units."""
        return self.input_tokens + WRITE_5M * self.cache_creation + READ * self.cache_read


async def ask(
    client: httpx.AsyncClient, args: argparse.Namespace, system: Any, number: int
) -> Sample:
    body = {
        "model": args.model,
        "max_tokens": 4,
        "temperature": 0.0,
        "stream": True,
        "system": system,
        "messages": [{"role": "user", "content": question(number)}],
    }
    headers = parley_headers(args.key)
    started = time.perf_counter()
    usage: dict[str, int] = {}
    ttft = None
    async with client.stream("POST", f"{args.parley}/v1/messages", json=body, headers=headers) as r:
        r.raise_for_status()
        async for event, data in sse_events(r):
            if event == "message_start":
                usage = json.loads(data)["message"]["usage"]
            elif event == "content_block_delta" and ttft is None:
                ttft = time.perf_counter() - started
    if ttft is None:
        raise RuntimeError(f"question {number} produced no text")
    return Sample(
        ttft,
        usage["input_tokens"],
        usage["cache_creation_input_tokens"],
        usage["cache_read_input_tokens"],
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    salt = args.salt or f"{time.time():.0f}"
    manual = pseudo_text(f"manual-{salt}", args.manual_tokens // 25)
    cached = [{"type": "text", "text": manual, "cache_control": {"type": "ephemeral"}}]
    async with httpx.AsyncClient(timeout=args.request_timeout) as client:
        with_cache = [await ask(client, args, cached, n) for n in range(1, args.questions + 1)]
        cold = [
            await ask(client, args, f"Copy {salt}-{n}.\n{manual}", n)
            for n in range(1, args.cold_samples + 1)
        ]
        later = range(args.questions + 1, args.questions + 1 + args.physical_samples)
        same_text = [await ask(client, args, manual, n) for n in later]
    prompt = with_cache[0].input_tokens + with_cache[0].cache_creation
    written = with_cache[0].cache_creation
    uncached_tail = [s.input_tokens for s in with_cache]
    predicted_cached = (
        WRITE_5M * written + READ * written * (args.questions - 1) + sum(uncached_tail)
    )
    predicted_plain = Decimal(
        sum(s.input_tokens + s.cache_creation + s.cache_read for s in with_cache)
    )
    reported_cached = sum((s.cost for s in with_cache), Decimal(0))
    warm = [s.ttft_s for s in with_cache[1:]]
    return {
        "manual_tokens": written,
        "prompt_tokens_first": prompt,
        "questions": args.questions,
        "ttft_s": {
            "cache_write_first": with_cache[0].ttft_s,
            "cache_read_median": statistics.median(warm),
            "cold_mean": statistics.fmean(s.ttft_s for s in cold),
            "same_text_no_cache_control_median": statistics.median(s.ttft_s for s in same_text),
        },
        "input_cost_base_tokens": {
            "without_caching": str(predicted_plain),
            "with_caching_reported": str(reported_cached),
            "with_caching_predicted": str(predicted_cached),
        },
        "samples": {
            "cache_control": [asdict(s) for s in with_cache],
            "cold": [asdict(s) for s in cold],
            "same_text_no_cache_control": [asdict(s) for s in same_text],
        },
    }


def report(result: dict[str, Any]) -> None:
    ttft, cost = result["ttft_s"], result["input_cost_base_tokens"]
    table = Table(
        title=f"{result['questions']} questions on a {result['manual_tokens']}-token manual"
    )
    table.add_column("measure")
    table.add_column("without caching", justify="right")
    table.add_column("with cache_control", justify="right")
    table.add_column("change", justify="right")
    cut = 1 - ttft["cache_read_median"] / ttft["cold_mean"]
    table.add_row(
        "TTFT per question (s)",
        f"{ttft['cold_mean']:.3f} (cold mean)",
        f"{ttft['cache_read_median']:.3f} (read median)",
        f"{-cut:+.1%}",
    )
    plain, reported = Decimal(cost["without_caching"]), Decimal(cost["with_caching_reported"])
    predicted = Decimal(cost["with_caching_predicted"])
    table.add_row(
        "input cost, base-token units",
        f"{plain:,.1f}",
        f"{reported:,.1f} (predicted {predicted:,.1f})",
        f"{reported / plain - 1:+.1%}",
    )
    table.add_row(
        "first request TTFT (s)", "", f"{ttft['cache_write_first']:.3f} (writes the cache)", ""
    )
    table.add_row(
        "same manual, no cache_control: TTFT (s)",
        f"{ttft['same_text_no_cache_control_median']:.3f} (physical reuse, full price)",
        "",
        "",
    )
    Console().print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parley", required=True, help="Parley base URL (loopback)")
    parser.add_argument("--key", required=True, help="Parley API key")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--manual-tokens", type=int, default=6000)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--cold-samples", type=int, default=3)
    parser.add_argument("--physical-samples", type=int, default=3)
    parser.add_argument("--salt", default=None, help="manual seed (default: new each run)")
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=2, help="recorded with the machine")
    parser.add_argument("--out", type=Path, default=Path("bench/results/caching.json"))
    args = parser.parse_args(argv)
    check_loopback(args.parley)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    result["machine"] = machine_info(args.threads)
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
