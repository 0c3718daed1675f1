"""Threads benchmark: a tool-using agent loop run with message threads and without, side by
side against a running `parley serve`.

Each conversation starts with a system prompt and a task; every turn the model must call a
tool (`tool_choice: any`), and the next turn answers that call with a tool result of about
`--result-tokens` tokens. With threads, turn 1 is a `create` and each later turn a `continue`
carrying only the new tool result; without, every turn sends the whole history. The two loops
take turns (threaded turn n, then unthreaded turn n) so load falls on both alike, and each has
text of its own (no prefix is shared between them). Per turn: time to the first streamed
token (TTFT), request bytes and prompt tokens; per loop: total time. Targets (issue 11): with
threads, the last turn's TTFT within 1.5x of turn 2's, and below the unthreaded TTFT at every
turn after the fifth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, parley_headers, sse_events, write_json
from pseudotext import pseudo_text

BETA = "message-threads-2026-08-12"
TOOL = {
    "name": "read_file",
    "description": "Reads one file of the repository and returns its text.",
    "input_schema": {
        "type": "object",
        "properties": {"path": {"type": "string", "maxLength": 40}},
        "required": ["path"],
        "additionalProperties": False,
    },
}
TOKENS_PER_SENTENCE = 26  # pseudo_text's sentences, as the packaged model's tokenizer counts


@dataclass
class Turn:
    ttft_s: float
    request_bytes: int
    prompt_tokens: int
    reply: dict[str, Any]
    message_id: str


class Loop:
    """One agent conversation, threaded or not."""

    def __init__(self, args: argparse.Namespace, name: str, threaded: bool, salt: str) -> None:
        self.args, self.name, self.threaded = args, name, threaded
        self.salt = f"{salt}-{name}"
        self.system = "You are a coding agent. Read files until the task is done.\n" + (
            pseudo_text(f"system-{self.salt}", 8)
        )
        self.history: list[dict[str, Any]] = [
            {"role": "user", "content": f"Task {self.salt}: find where the ledger is written."}
        ]
        self.new: list[dict[str, Any]] = list(self.history)
        self.turns: list[Turn] = []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.args.model,
            "max_tokens": self.args.max_tokens,
            "temperature": 0.0,
            "stream": True,
            "tool_choice": {"type": "any"},
        }
        if self.threaded and self.turns:
            previous = self.turns[-1].message_id
            return body | {
                "messages": self.new,
                "thread": {"type": "continue", "previous_message_id": previous},
            }
        body |= {"system": self.system, "tools": [TOOL], "messages": self.history}
        return body | ({"thread": {"type": "create"}} if self.threaded else {})

    async def turn(self, client: httpx.AsyncClient) -> None:
        payload = json.dumps(self.body()).encode()
        headers = {
            **parley_headers(self.args.key),
            "content-type": "application/json",
            "anthropic-beta": BETA,
        }
        started = time.perf_counter()
        ttft: float | None = None
        message: dict[str, Any] = {}
        blocks: list[dict[str, Any]] = []
        inputs: list[str] = []
        async with client.stream(
            "POST", "/v1/messages", content=payload, headers=headers
        ) as response:
            if response.status_code != 200:
                raise SystemExit(f"{self.name}: {response.status_code} {await response.aread()!r}")
            async for event, data in sse_events(response):
                parsed = json.loads(data)
                if event == "message_start":
                    message = parsed["message"]
                elif event == "content_block_start":
                    blocks.append(parsed["content_block"])
                    inputs.append("")
                elif event == "content_block_delta":
                    ttft = ttft if ttft is not None else time.perf_counter() - started
                    if parsed["delta"]["type"] == "input_json_delta":
                        inputs[-1] += parsed["delta"]["partial_json"]
                elif event == "error":
                    raise SystemExit(f"{self.name}: {data}")
        for block, text in zip(blocks, inputs, strict=True):
            if block["type"] == "tool_use" and text:
                block["input"] = json.loads(text)
        usage = message["usage"]
        prompt = (
            usage["input_tokens"]
            + usage["cache_creation_input_tokens"]
            + usage["cache_read_input_tokens"]
        )
        reply = {"role": "assistant", "content": blocks}
        self.turns.append(
            Turn(ttft or time.perf_counter() - started, len(payload), prompt, reply, message["id"])
        )
        self._answer(reply, len(self.turns))

    def _answer(self, reply: dict[str, Any], number: int) -> None:
        """The tool result the next turn sends: about `--result-tokens` tokens of file."""
        calls = [b for b in reply["content"] if b["type"] == "tool_use"]
        if not calls:
            raise SystemExit(f"{self.name}: turn {number} called no tool")
        sentences = max(1, self.args.result_tokens // TOKENS_PER_SENTENCE)
        results = [
            {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "content": pseudo_text(f"file-{self.salt}-{number}-{index}", sentences),
            }
            for index, call in enumerate(calls)
        ]
        self.new = [{"role": "user", "content": results}]
        self.history += [reply, *self.new]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    salt = args.salt or f"{time.time():.0f}"
    loops = [Loop(args, "threads", True, salt), Loop(args, "no_threads", False, salt)]
    totals = dict.fromkeys((loop.name for loop in loops), 0.0)
    async with httpx.AsyncClient(base_url=args.parley, timeout=args.request_timeout) as client:
        for _ in range(args.turns):
            for loop in loops:
                started = time.perf_counter()
                await loop.turn(client)
                totals[loop.name] += time.perf_counter() - started
    by_name = {loop.name: loop.turns for loop in loops}
    threaded, plain = by_name["threads"], by_name["no_threads"]
    last = len(threaded) - 1
    return {
        "turns": args.turns,
        "result_tokens": args.result_tokens,
        "total_s": totals,
        "last_over_turn_2_ttft_threads": threaded[last].ttft_s / threaded[1].ttft_s,
        "threads_faster_after_turn_5": all(
            t.ttft_s < p.ttft_s for t, p in zip(threaded[5:], plain[5:], strict=True)
        ),
        "samples": {
            name: [{k: v for k, v in asdict(t).items() if k != "reply"} for t in turns]
            for name, turns in by_name.items()
        },
    }


def report(result: dict[str, Any]) -> None:
    threaded, plain = result["samples"]["threads"], result["samples"]["no_threads"]
    table = Table(title=f"Agent loop, {result['turns']} turns, threads vs whole history")
    for column in (
        "turn",
        "prompt tokens",
        "TTFT threads ms",
        "TTFT no threads ms",
        "ratio",
        "bytes threads",
        "bytes no threads",
    ):
        table.add_column(column, justify="right")
    for number, (t, p) in enumerate(zip(threaded, plain, strict=True), start=1):
        table.add_row(
            str(number),
            str(t["prompt_tokens"]),
            f"{t['ttft_s'] * 1000:.0f}",
            f"{p['ttft_s'] * 1000:.0f}",
            f"{t['ttft_s'] / p['ttft_s']:.2f}x",
            str(t["request_bytes"]),
            str(p["request_bytes"]),
        )
    Console().print(table)
    totals = result["total_s"]
    print(
        f"total: threads {totals['threads']:.1f} s, no threads {totals['no_threads']:.1f} s; "
        f"bytes: threads {sum(t['request_bytes'] for t in threaded)}, "
        f"no threads {sum(p['request_bytes'] for p in plain)}; "
        f"last/turn-2 TTFT with threads {result['last_over_turn_2_ttft_threads']:.2f}x "
        f"(target <= 1.5x); threads faster at every turn after the 5th: "
        f"{result['threads_faster_after_turn_5']}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", default="http://127.0.0.1:8787", help="loopback base URL")
    parser.add_argument("--key", required=True, help="Parley API key")
    parser.add_argument("--model", default="smollm2-135m-instruct-20250207")
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--result-tokens", type=int, default=300, help="per tool result")
    parser.add_argument("--max-tokens", type=int, default=24, help="per tool call")
    parser.add_argument("--salt", default="", help="text seed (default: the time: cold start)")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/threads.json"))
    args = parser.parse_args(argv)
    args.parley = check_loopback(args.parley)
    if args.turns < 7:
        parser.error("--turns: at least 7 (the targets compare turns 2, 6 and later)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = {**asyncio.run(run(args)), "machine": machine_info(0)}
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
