"""The engine benchmark's scenarios, each against one target (or, for the interleaved one, both):
single-stream decode, concurrent streams, shared prefix, rotating tenants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from engine_targets import Chat, Parley, Target
from harness import median, percentile
from pseudotext import pseudo_text, question

# Greedy SmolLM2-135M keeps counting far past 300 tokens on this prompt, so answers are cut by
# max_tokens rather than by an end-of-turn token (the token counts are checked and reported).
DECODE_PROMPT = "List the numbers from 1 to 1000 in digits, separated by commas."
PREFIX_QUESTION_TOKENS = 8  # answer length for the TTFT scenarios: only the first token matters
MAX_SIZING_ROUNDS = 6


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
