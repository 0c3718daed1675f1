"""Long fuzzing run: Schemathesis over every operation of a running Parley's /openapi.json,
valid and invalid requests, as a workspace key and as an admin key, for `--seconds`. Prints
the requests tried, the statuses seen and the failures (5xx, errors outside their surface's
shape or with the wrong type, 200s not valid against the description), and writes them as
JSON. Exits 1 if anything failed.

    parley serve --data-dir /tmp/fuzz &     # with a key of each kind (see bench/README.md)
    python bench/fuzz.py --parley http://127.0.0.1:8787 --key sk-ant-api03-... \\
        --admin-key sk-ant-admin01-... --seconds 300
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fuzzing import Fuzzer, an_ended_batch, fuzz_for
from harness import check_loopback, machine_info, write_json


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", required=True, help="Parley base URL (loopback)")
    parser.add_argument("--key", required=True, help="an API key of a workspace")
    parser.add_argument("--admin-key", required=True, help="an admin key of the same organization")
    parser.add_argument("--model", default="smollm2-135m-instruct-20250207")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--examples", type=int, default=10, help="cases per operation, mode, key")
    parser.add_argument("--max-tokens", type=int, default=8, help="most a valid body asks for")
    parser.add_argument("--out", type=Path, default=Path("bench/results/fuzz.json"))
    args = parser.parse_args()

    base_url = check_loopback(args.parley)
    fuzzer = Fuzzer(
        base_url,
        {"workspace": args.key, "admin": args.admin_key},
        model=args.model,
        max_tokens=args.max_tokens,
        objects={"batch_id": an_ended_batch(base_url, args.key)},
    )
    took = fuzz_for(fuzzer, args.seconds, args.examples, ["workspace", "admin"])
    tally = fuzzer.tally

    console = Console()
    table = Table(title=f"Fuzzing: {tally.tried} requests in {took:.0f} s")
    table.add_column("status")
    table.add_column("answers", justify="right")
    for status, count in sorted(tally.statuses.items()):
        table.add_row(str(status) if status else "no answer", f"{count:,}")
    console.print(table)
    failures = Table(title=f"Failures: {sum(tally.failures.values())}")
    failures.add_column("kind")
    failures.add_column("count", justify="right")
    for kind, count in tally.failures.most_common():
        failures.add_row(kind, f"{count:,}")
    console.print(failures)
    for example in tally.examples:
        console.print(example)
    write_json(
        args.out,
        {
            "machine": machine_info(threads=0),
            "seconds": took,
            "operations": len(fuzzer.operations()),
            "requests": tally.tried,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "by_operation": dict(tally.by_operation),
            "failures": dict(tally.failures),
            "failure_examples": tally.examples,
        },
    )
    return 1 if tally.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
