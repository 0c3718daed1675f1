"""Tool-use benchmark: how often the model calls a tool under `tool_choice: auto`, and the
time a forced call takes, against a running `parley serve`. Prints a table, writes JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, parley_headers, write_json

WEATHER = {
    "name": "get_weather",
    "description": "The current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30}},
        "required": ["city"],
    },
}
QUESTIONS = ["What is the weather in Paris?", "Is it raining in Oslo?", "How warm is Rome today?"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = parley_headers(args.key)
    results: dict[str, Any] = {}
    with httpx.Client(base_url=args.parley, headers=headers, timeout=120) as client:
        for choice in ({"type": "auto"}, {"type": "any"}):
            calls = valid = 0
            started = time.perf_counter()
            for n in range(args.requests):
                body = {
                    "model": args.model,
                    "max_tokens": 120,
                    "tools": [WEATHER],
                    "tool_choice": choice,
                    "messages": [{"role": "user", "content": QUESTIONS[n % len(QUESTIONS)]}],
                }
                message = client.post("/v1/messages", json=body).raise_for_status().json()
                uses = [b for b in message["content"] if b["type"] == "tool_use"]
                calls += bool(uses)
                valid += all(isinstance(u["input"].get("city"), str) for u in uses) and bool(uses)
            results[choice["type"]] = {
                "requests": args.requests,
                "with_tool_use": calls,
                "valid_input": valid,
                "seconds_per_request": (time.perf_counter() - started) / args.requests,
            }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", required=True, help="Parley base URL (loopback)")
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/tools.json"))
    args = parser.parse_args()
    check_loopback(args.parley)
    result = {"tool_choice": run(args), "machine": machine_info(0)}
    table = Table(title=f"{args.requests} requests per tool_choice, one tool")
    for column in ("tool_choice", "answers with tool_use", "valid input", "s / request"):
        table.add_column(column, justify="right")
    for name, row in result["tool_choice"].items():
        table.add_row(
            name,
            f"{row['with_tool_use']}/{row['requests']}",
            f"{row['valid_input']}/{row['requests']}",
            f"{row['seconds_per_request']:.2f}",
        )
    Console().print(table)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
