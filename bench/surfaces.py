"""Surface overhead benchmark: what each partner-cloud shape adds to a request over the
first-party path, on the same prompt with `max_tokens` 1.

One client sends `--requests` requests per variant to a running `parley serve`, the variants
taking turns (round-robin), so load and cache state fall on each alike. Variants: first-party
`/v1/messages`; Vertex `:rawPredict`; Bedrock `invoke` with a Bedrock API key and signed with
SigV4 (botocore's signer, run before the clock starts: the server's verification is timed); and
the three streaming forms to their last byte. Prints p50/p99 per variant and its p50 over the
first-party one's (same framing: non-stream against non-stream, stream against stream).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from rich.console import Console
from rich.table import Table

from harness import check_loopback, machine_info, median, parley_headers, percentile, write_json

PROMPT = [{"role": "user", "content": "Name one colour."}]
REGION = "us-east-1"
Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


def variants(args: argparse.Namespace) -> dict[str, Callable[[], Request]]:
    """Each variant builds its request afresh (a SigV4 signature carries the time)."""
    first_party = {"model": args.model, "max_tokens": 1, "messages": PROMPT}
    vertex = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 1, "messages": PROMPT}
    bedrock = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": PROMPT}
    vertex_path = (
        f"/v1/projects/bench/locations/{REGION}/publishers/anthropic/models/{args.vertex_model}"
    )
    bedrock_path = f"/model/{args.bedrock_model}"
    keyed = {"authorization": f"Bearer {args.key}", "content-type": "application/json"}
    access_key, _, secret = args.aws_key.partition(" ")

    def plain(path: str, body: dict[str, Any], headers: dict[str, str]) -> Callable[[], Request]:
        encoded = json.dumps(body).encode()
        return lambda: (path, encoded, headers)

    def signed(path: str) -> Callable[[], Request]:
        encoded = json.dumps(bedrock).encode()

        def build() -> Request:
            request = AWSRequest(
                method="POST",
                url=args.parley + path,
                data=encoded,
                headers={"content-type": "application/json"},
            )
            SigV4Auth(Credentials(access_key, secret), "bedrock", REGION).add_auth(request)
            return path, encoded, dict(request.headers)

        return build

    first_party_headers = {**parley_headers(args.key), "content-type": "application/json"}
    return {
        "first_party": plain("/v1/messages", first_party, first_party_headers),
        "vertex": plain(f"{vertex_path}:rawPredict", vertex, keyed),
        "bedrock_api_key": plain(f"{bedrock_path}/invoke", bedrock, keyed),
        "bedrock_sigv4": signed(f"{bedrock_path}/invoke"),
        "first_party_stream": plain(
            "/v1/messages", first_party | {"stream": True}, first_party_headers
        ),
        "vertex_stream": plain(f"{vertex_path}:streamRawPredict", vertex, keyed),
        "bedrock_stream_sigv4": signed(f"{bedrock_path}/invoke-with-response-stream"),
    }


def timed(client: httpx.Client, request: Request) -> float:
    path, body, headers = request
    started = time.perf_counter()
    with client.stream("POST", path, content=body, headers=headers) as response:
        for _ in response.iter_bytes():
            pass
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.read()[:300]!r}")
    return elapsed * 1000


def run(args: argparse.Namespace) -> dict[str, Any]:
    built = variants(args)
    samples: dict[str, list[float]] = {name: [] for name in built}
    with httpx.Client(base_url=args.parley, timeout=args.request_timeout) as client:
        for _ in range(args.warmup):
            for build in built.values():
                timed(client, build())
        for _ in range(args.requests):
            for name, build in built.items():
                samples[name].append(timed(client, build()))
    result: dict[str, Any] = {"requests_per_variant": args.requests, "variants": {}}
    for name, values in samples.items():
        base = samples["first_party_stream" if "stream" in name else "first_party"]
        result["variants"][name] = {
            "p50_ms": median(values),
            "p99_ms": percentile(values, 99),
            "p50_over_first_party": median(values) / median(base),
            "p50_added_ms": median(values) - median(base),
        }
    return result


def report(result: dict[str, Any]) -> None:
    table = Table(title=f"Surface overhead, {result['requests_per_variant']} requests each")
    for column in ("variant", "p50 ms", "p99 ms", "p50 / first-party", "p50 added ms"):
        table.add_column(column, justify="right")
    for name, row in result["variants"].items():
        table.add_row(
            name,
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['p50_over_first_party']:.3f}x",
            f"{row['p50_added_ms']:+.2f}",
        )
    Console().print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parley", default="http://127.0.0.1:8787", help="loopback base URL")
    parser.add_argument("--key", required=True, help="Parley API key")
    parser.add_argument(
        "--aws-key", required=True, help='"ACCESS_KEY_ID SECRET" from `parley keys create --aws`'
    )
    parser.add_argument("--model", default="smollm2-135m-instruct-20250207", help="first-party id")
    parser.add_argument("--vertex-model", default="smollm2-135m-instruct@20250207")
    parser.add_argument(
        "--bedrock-model", default="us.anthropic.smollm2-135m-instruct-20250207-v1:0"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/surfaces.json"))
    args = parser.parse_args(argv)
    args.parley = check_loopback(args.parley)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = {**run(args), "machine": machine_info(0)}
    report(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
