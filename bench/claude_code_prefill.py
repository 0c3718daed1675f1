"""Claude Code's default request against a running `parley serve` (the packaged Gemma 3 270M):
how long its ~22,700-token prompt takes to prefill cold, and a second turn that reads the first
one's prompt from the cache.

The first request is the recorded body of `tests/fixtures/claude_code_default_request.json`
(Claude Code 2.1.197's full system prompt and 25 tools), sent as Claude Code sends it; the
second appends a short assistant reply and a new user turn, as Claude Code's next turn does.
Each is a stream read up to its first content delta, then closed: the time to that delta is
the prefill (and one decode step). Prefill rate = prompt tokens not read from the cache / that
time. Run `python bench/claude_code_prefill.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, parley_headers, sse_events, write_json

RECORDED = Path(__file__).resolve().parents[1] / "tests/fixtures/claude_code_default_request.json"


async def first_delta(
    client: httpx.AsyncClient, args: argparse.Namespace, body: dict[str, Any]
) -> dict[str, Any]:
    headers = {**parley_headers(args.key), "anthropic-beta": "claude-code-20250219"}
    started = time.perf_counter()
    usage: dict[str, int] = {}
    url = f"{args.parley}/v1/messages?beta=true"
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for event, data in sse_events(response):
            if event == "message_start":
                usage = json.loads(data)["message"]["usage"]
            elif event == "content_block_delta":
                break
    seconds = time.perf_counter() - started
    prompt = sum(
        usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    prefilled = prompt - usage["cache_read_input_tokens"]
    return {
        "prompt_tokens": prompt,
        "cache_read": usage["cache_read_input_tokens"],
        "cache_creation": usage["cache_creation_input_tokens"],
        "prefilled_tokens": prefilled,
        "seconds_to_first_delta": seconds,
        "prefill_tokens_per_s": prefilled / seconds,
    }


def second_turn(body: dict[str, Any]) -> dict[str, Any]:
    later = copy.deepcopy(body)
    later["messages"] += [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
        {"role": "user", "content": [{"type": "text", "text": "Now list the files here."}]},
    ]
    return later


async def main(args: argparse.Namespace) -> None:
    body = json.loads(RECORDED.read_text())
    body["model"] = args.model
    async with httpx.AsyncClient(timeout=3600) as client:
        cold = await first_delta(client, args, body)
        cached = await first_delta(client, args, second_turn(body))
    table = Table(title="Claude Code's default request, prefill")
    for column in ("turn", "prompt", "cache read", "prefilled", "s to 1st delta", "prefill tok/s"):
        table.add_column(column, justify="right")
    for name, run in (("1 (cold)", cold), ("2 (cached)", cached)):
        table.add_row(
            name,
            str(run["prompt_tokens"]),
            str(run["cache_read"]),
            str(run["prefilled_tokens"]),
            f"{run['seconds_to_first_delta']:.1f}",
            f"{run['prefill_tokens_per_s']:.0f}",
        )
    Console().print(table)
    write_json(
        Path(args.out),
        {"machine": machine_info(args.threads), "cold": cold, "cached": cached},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parley", type=check_loopback, default="http://127.0.0.1:8787")
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--threads", type=int, default=2, help="the server's, for the record")
    parser.add_argument("--out", default="bench/results/claude_code_prefill.json")
    asyncio.run(main(parser.parse_args()))
