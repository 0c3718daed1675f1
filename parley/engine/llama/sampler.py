"""Builds the llama.cpp sampler chain for one sequence: its grammar, then its sampling."""

from __future__ import annotations

import secrets
from typing import Any

import llama_cpp as llama

from parley.domain.ports import Sampling


def make_sampler(grammar: str | None, sampling: Sampling, base_seed: int, vocab: Any) -> Any:
    """A chain that the caller frees with `free_sampler`. `base_seed` 0 seeds each chain at
    random; any other value makes sampling at a temperature repeatable."""
    chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
    if grammar is not None:  # first: it masks every token the grammar forbids
        constraint = llama.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        llama.llama_sampler_chain_add(chain, constraint)
    if sampling.temperature <= 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
        return chain
    if sampling.top_k:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(sampling.top_k))
    if sampling.top_p is not None and sampling.top_p < 1.0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(sampling.top_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(sampling.temperature))
    seed = base_seed or secrets.randbits(32)
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed))
    return chain


def free_sampler(chain: Any) -> None:
    llama.llama_sampler_free(chain)
