"""Admission by expected wait: a request the engine cannot start within `max_queue_wait_s` is
refused with a 529 at once, instead of waiting in a queue for longer than a client will.

The wait is estimated from the work queued ahead (prompt tokens still to prefill, output tokens
still to decode, at most `max_tokens`) and the engine's measured cost per token of each kind.
The sequences share the engine: with `slots` of them decoding, each advances at 1/`slots` of
its throughput, so a job's remaining engine time times `slots` is when its slot frees.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence


class TokenCosts:
    """Seconds of engine time per prefill token and per decode token: exponentially weighted
    means over the decode loop's steps. A step that both decodes and prefills is split with
    the decode cost known so far. Until one kind is measured it is priced like the other (a
    fresh engine admits freely until its first step)."""

    def __init__(self, weight: float = 0.1) -> None:
        self._weight = weight
        self.prefill: float | None = None
        self.decode: float | None = None

    def observe(self, decoded: int, prefilled: int, seconds: float) -> None:
        if decoded and not prefilled:
            self.decode = self._mean(self.decode, seconds / decoded)
        elif prefilled and not decoded:
            self.prefill = self._mean(self.prefill, seconds / prefilled)
        elif decoded and prefilled and self.decode is not None:
            rest = seconds - decoded * self.decode
            if rest > 0:
                self.prefill = self._mean(self.prefill, rest / prefilled)

    def _mean(self, mean: float | None, sample: float) -> float:
        return sample if mean is None else mean + self._weight * (sample - mean)

    def work(self, prompt_tokens: int, output_tokens: int) -> float:
        """Seconds of the whole engine that this many tokens take."""
        prefill = self.prefill if self.prefill is not None else self.decode or 0.0
        decode = self.decode if self.decode is not None else prefill
        return prompt_tokens * prefill + output_tokens * decode

    def prefill_within(self, seconds: float, decoded: int) -> int:
        """How many prompt tokens a step can hold beside `decoded` decode tokens and still
        take about `seconds`: at least one, so a prompt always advances; no limit until
        both costs are measured."""
        if self.prefill is None or self.decode is None:
            return 1 << 30
        return max(1, int((seconds - decoded * self.decode) / self.prefill))


def start_delay(running: Sequence[float], waiting: Sequence[float], slots: int) -> float:
    """Seconds until a new job gets a slot, first come first served. `running` and `waiting`:
    each job's remaining work in seconds of the whole engine; a slot with nothing in it is
    free now."""
    frees = [work * slots for work in running] + [0.0] * max(0, slots - len(running))
    heapq.heapify(frees)
    for work in waiting:
        heapq.heappush(frees, heapq.heappop(frees) + work * slots)
    return frees[0]
