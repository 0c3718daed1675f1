"""Engine benchmark: Parley against llama.cpp's own `llama-server` on the same model and threads.

Run `python bench/engine.py --help` and see bench/README.md. Both servers are reached over
loopback HTTP only; every loop is bounded in count and every request and scenario in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from engine_report import console, print_table, report_rows
from engine_scenarios import (
    DECODE_PROMPT,
    concurrent_streams,
    interleaved_prefix,
    shared_prefix,
    single_stream,
    sized_prefix,
    tenants_rotating,
)
from engine_targets import Chat, LlamaServer, Parley, Target
from harness import bounded, check_loopback, machine_info, write_json
from llama_process import LlamaServerProcess, default_model_path, llama_server_command


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)

    def levels(text: str) -> list[int]:
        values = [int(v) for v in text.split(",") if v.strip()]
        if not values or any(v < 1 or v > 64 for v in values):
            raise argparse.ArgumentTypeError("concurrency levels are integers from 1 to 64")
        return values

    parser.add_argument("--parley", required=True, help="Parley base URL (loopback)")
    parser.add_argument("--key", required=True, help="Parley API key")
    parser.add_argument(
        "--tenant-keys", default="", help="comma-separated keys, one per tenant (own workspaces)"
    )
    parser.add_argument("--parley-model", default="smollm2", help="Parley model id or alias")
    parser.add_argument(
        "--llama-server", default=None, help="llama-server base URL, or the path to the binary"
    )
    parser.add_argument("--model", type=Path, default=None, help="GGUF for a started llama-server")
    parser.add_argument("--threads", type=int, default=2, help="threads of a started llama-server")
    parser.add_argument("--ctx-size", type=int, default=16384, help="llama-server --ctx-size")
    parser.add_argument("--slots", type=int, default=8, help="llama-server --parallel")
    parser.add_argument(
        "--llama-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for a started llama-server (repeat; e.g. --llama-arg=--cache-reuse)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/engine.json"))
    parser.add_argument(
        "--scenarios",
        default="1,2,3,4",
        help="which scenarios to run (4, the interleaved shared prefix, needs --llama-server)",
    )
    parser.add_argument("--interleaved-repeats", type=int, default=12)
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="scenario 1 repetitions")
    parser.add_argument("--concurrency", type=levels, default=[1, 4, 8])
    parser.add_argument("--concurrent-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2, help="scenario 2 rounds per level")
    parser.add_argument("--prefix-tokens", type=int, default=4000)
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--tenant-prefix-tokens", type=int, default=1900)
    parser.add_argument("--tenant-requests", type=int, default=3)
    parser.add_argument("--salt", default=None, help="prefix seed (default: new each run = cold)")
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--scenario-timeout", type=float, default=1200.0)
    args = parser.parse_args(argv)
    for name in (
        "repeats",
        "rounds",
        "warm_repeats",
        "interleaved_repeats",
        "tenants",
        "tenant_requests",
    ):
        if not 1 <= getattr(args, name) <= 50:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 50")
    args.scenario_set = {s.strip() for s in args.scenarios.split(",")}
    return args


async def run_target(
    target: Target, args: argparse.Namespace, prefix: str, tenant_prefixes: Sequence[str]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    limit = args.scenario_timeout

    async def attempt(name: str, make: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        console.print(f"[dim]{target.name}: scenario {name} ...[/dim]")
        started = time.perf_counter()
        try:
            results[name] = await bounded(make(), limit, f"{target.name} {name}")
        except (RuntimeError, httpx.HTTPError) as exc:
            results[name] = {"error": str(exc) or type(exc).__name__}
            console.print(f"[red]{target.name} {name}: {results[name]['error']}[/red]")
        results[name]["elapsed_s"] = time.perf_counter() - started

    # Warm-up (not measured): loads weights into the page cache, compiles nothing, fills no cache
    # that the scenarios use.
    await bounded(target.stream(Chat("", "Say hello.", 4)), limit, f"{target.name} warm-up")
    if "1" in args.scenario_set:
        await attempt("single", lambda: single_stream(target, args.decode_tokens, args.repeats))
    if "2" in args.scenario_set:
        await attempt(
            "concurrent",
            lambda: concurrent_streams(
                target, args.concurrent_tokens, args.concurrency, args.rounds
            ),
        )
    if "3" in args.scenario_set:
        await attempt("prefix", lambda: shared_prefix(target, prefix, args.warm_repeats))
        await attempt(
            "tenants", lambda: tenants_rotating(target, tenant_prefixes, args.tenant_requests)
        )
    return results


async def main_async(args: argparse.Namespace) -> int:
    parley_url = check_loopback(args.parley)
    tenant_keys = [k.strip() for k in args.tenant_keys.split(",") if k.strip()] or [args.key]
    timeout = httpx.Timeout(args.request_timeout, connect=10.0)
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=64)
    salt = args.salt or datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy > 0.5:
        console.print(
            f"[yellow]load average is {busy:.2f}: other work on this machine will skew the "
            "numbers (llama.cpp threads spin and suffer most when cores are shared)[/yellow]"
        )
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
        parley = Parley(client, parley_url, args.key, tenant_keys, args.parley_model)

        prefix, prefix_tokens = "", 0
        interleaved_prefix_text = ""
        tenant_prefixes: list[str] = []
        if "4" in args.scenario_set:
            interleaved_prefix_text, _ = await sized_prefix(
                parley, f"{salt}-interleaved", args.prefix_tokens
            )
        if "3" in args.scenario_set:
            prefix, prefix_tokens = await sized_prefix(parley, f"{salt}-shared", args.prefix_tokens)
            for tenant in range(args.tenants):
                text, _ = await sized_prefix(
                    parley, f"{salt}-tenant{tenant + 1}", args.tenant_prefix_tokens
                )
                tenant_prefixes.append(text)
            console.print(f"shared prefix: ~{prefix_tokens} tokens; seed {salt!r}")

        report: dict[str, Any] = {
            "machine": machine_info(args.threads),
            "parameters": {
                k: v for k, v in vars(args).items() if k not in ("key", "tenant_keys", "out")
            }
            | {"scenario_set": sorted(args.scenario_set), "salt": salt},
            "prompts": {"decode": DECODE_PROMPT, "prefix_tokens": prefix_tokens},
            "results": {},
            "settings": {},
        }
        report["parameters"]["model"] = str(args.model) if args.model else None
        report["parameters"]["out"] = str(args.out)

        async with contextlib.AsyncExitStack() as stack:
            llama: LlamaServer | None = None
            llama_note = ""
            if args.llama_server is None:
                llama_note = "not given"
            elif args.llama_server.startswith(("http://", "https://")):
                llama = LlamaServer(client, check_loopback(args.llama_server), None)
            else:
                binary = Path(args.llama_server)
                model = args.model or default_model_path()
                if not binary.is_file() or not os.access(binary, os.X_OK):
                    raise SystemExit(f"--llama-server {binary} is not an executable file")
                if model is None or not model.is_file():
                    raise SystemExit("--model: the GGUF file was not found")
                command = llama_server_command(
                    binary, model, args.threads, args.ctx_size, args.slots
                )
                command += args.llama_arg
                log_path = args.out.with_name("llama-server.log")
                process = await stack.enter_async_context(LlamaServerProcess(command, log_path))
                console.print(f"[dim]started: {' '.join(process.command)}[/dim]")
                llama = LlamaServer(client, process.url, process.command)

            report["settings"]["parley"] = await parley.settings()
            report["results"]["parley"] = await run_target(parley, args, prefix, tenant_prefixes)
            if llama is not None:
                report["settings"]["llama-server"] = await llama.settings()
                report["results"]["llama-server"] = await run_target(
                    llama, args, prefix, tenant_prefixes
                )
                if "4" in args.scenario_set:
                    console.print("[dim]both: scenario 4 (interleaved) ...[/dim]")
                    both = await bounded(
                        interleaved_prefix(
                            {"parley": parley, "llama-server": llama},
                            interleaved_prefix_text,
                            args.interleaved_repeats,
                        ),
                        args.scenario_timeout,
                        "interleaved",
                    )
                    for name, result in both.items():
                        report["results"][name]["interleaved"] = result

    report["machine"]["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows = report_rows(args)
    print_table(rows, report["results"], llama_note)
    report["table"] = [
        {"scenario": r.label, "unit": r.unit, "better": r.better, **r.values} for r in rows
    ]
    write_json(args.out, report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
