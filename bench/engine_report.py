"""The engine benchmark's table: one row per measure, Parley and llama-server side by side with
their ratio, and the same rows for the JSON report."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

Better = Literal["higher", "lower", "info"]

console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass
class Row:
    label: str
    unit: str
    better: Better
    path: tuple[str, ...]
    values: dict[str, float | None] = field(default_factory=dict)


def dig(data: Any, path: Sequence[str]) -> float | None:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return float(data) if isinstance(data, int | float) and not math.isnan(data) else None


def report_rows(args: argparse.Namespace) -> list[Row]:
    rows = [
        Row(
            f"1. decode, {args.decode_tokens}-token answer",
            "tok/s",
            "higher",
            ("single", "decode_tok_s"),
        ),
        Row("1. time to first token", "ms", "lower", ("single", "ttft_ms")),
        Row("1. output tokens (median)", "tokens", "info", ("single", "output_tokens")),
    ]
    for level in args.concurrency:
        rows += [
            Row(
                f"2. aggregate, {level} streams x {args.concurrent_tokens}",
                "tok/s",
                "higher",
                ("concurrent", str(level), "aggregate_tok_s"),
            ),
            Row(
                f"2. TTFT p50, {level} streams",
                "ms",
                "lower",
                ("concurrent", str(level), "ttft_p50_ms"),
            ),
            Row(
                f"2. TTFT p99, {level} streams",
                "ms",
                "lower",
                ("concurrent", str(level), "ttft_p99_ms"),
            ),
        ]
    rows += [
        Row("3. shared prefix prompt", "tokens", "info", ("prefix", "prompt_tokens")),
        Row("3. TTFT cold (first request)", "ms", "lower", ("prefix", "cold_ttft_ms")),
        Row(
            f"3. TTFT warm (median of {args.warm_repeats})",
            "ms",
            "lower",
            ("prefix", "warm_ttft_ms"),
        ),
        Row("3. cold / warm TTFT", "x", "higher", ("prefix", "cold_over_warm")),
        Row(
            f"3. {args.tenants} tenants: TTFT first request (median)",
            "ms",
            "lower",
            ("tenants", "first_ttft_ms"),
        ),
        Row(
            "3. tenants: TTFT later requests (median)", "ms", "lower", ("tenants", "later_ttft_ms")
        ),
        Row(
            "3. tenants: TTFT later requests (p99)", "ms", "lower", ("tenants", "later_ttft_p99_ms")
        ),
        Row("4. interleaved: TTFT cold", "ms", "lower", ("interleaved", "cold_ttft_ms")),
        Row(
            f"4. interleaved: TTFT warm (median of {args.interleaved_repeats})",
            "ms",
            "lower",
            ("interleaved", "warm_ttft_ms"),
        ),
    ]
    return rows


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def print_table(rows: Sequence[Row], results: dict[str, dict[str, Any]], llama_note: str) -> None:
    table = Table(title="Parley vs llama-server (same GGUF, same threads, loopback HTTP)")
    table.add_column("scenario")
    table.add_column("unit")
    table.add_column("better")
    table.add_column("Parley", justify="right")
    table.add_column("llama-server", justify="right")
    table.add_column("Parley / llama-server", justify="right")
    for row in rows:
        parley = dig(results.get("parley", {}), row.path)
        llama = dig(results.get("llama-server", {}), row.path)
        ratio = "-"
        if row.better != "info" and parley is not None and llama:
            ratio = f"{parley / llama:.2f}x"
        row.values = {"parley": parley, "llama-server": llama}
        llama_cell = fmt(llama) if llama is not None else (llama_note or "-")
        better = "" if row.better == "info" else row.better
        table.add_row(row.label, row.unit, better, fmt(parley), llama_cell, ratio)
    console.print(table)
