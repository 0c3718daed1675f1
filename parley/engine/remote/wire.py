"""What goes over HTTP to each kind of server: the request body (token ids, sampling, the
constraint in the form the server takes) and the streamed chunks read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from parley.domain.ports import JsonConstraint, Sampling
from parley.engine.llama.grammar import closed_by, json_grammar

Finish = Literal["eos", "limit"]


@dataclass(frozen=True)
class Constraint:
    """A JSON constraint on what is generated next; `closing` a literal that must follow it
    (a tool call's closing tag)."""

    json: JsonConstraint
    closing: str = ""


@dataclass(frozen=True)
class Chunk:
    """Generated tokens and their text; `finish` on the chunk that ends generating, `reused`
    (prompt tokens the server took from its cache) on it or on a usage chunk after it."""

    tokens: list[int]
    text: str
    finish: Finish | None = None
    reused: int = 0
    predicted: int | None = None  # tokens generated so far, where the server counts them


class ServerWire(Protocol):
    path: str
    appends_closing: bool  # whether the gateway writes a constraint's closing literal itself

    def check(self, constraint: Constraint) -> None:
        """InvalidRequestError if the constraint cannot go over the wire."""

    def body(
        self, prompt: list[int], max_tokens: int, sampling: Sampling, constraint: Constraint | None
    ) -> dict[str, Any]: ...

    def parse(self, data: dict[str, Any]) -> Chunk | None:
        """None for a chunk that carries nothing (vLLM's usage-only chunk before [DONE])."""


class LlamaServerWire:
    """llama.cpp's native `POST /completion`: token ids in, token ids per streamed chunk out
    (`return_tokens`), the constraint as a GBNF grammar made by the same converter the
    in-process engine uses (so both enforce exactly the same language)."""

    path = "/completion"
    appends_closing = False

    def check(self, constraint: Constraint) -> None:
        self._grammar(constraint)

    def _grammar(self, constraint: Constraint) -> str:
        grammar = json_grammar(constraint.json.schema, constraint.json.field)
        return closed_by(grammar, constraint.closing) if constraint.closing else grammar

    def body(
        self, prompt: list[int], max_tokens: int, sampling: Sampling, constraint: Constraint | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": max_tokens,
            "stream": True,
            "cache_prompt": True,
            "return_tokens": True,
            # the in-process engine's chain exactly: nothing but what the request asks for
            "samplers": ["top_k", "top_p", "temperature"],
            "temperature": sampling.temperature,
            "top_k": sampling.top_k or 0,
            "top_p": 1.0 if sampling.top_p is None else sampling.top_p,
            "min_p": 0.0,
        }
        if constraint is not None:
            body["grammar"] = self._grammar(constraint)
        return body

    def parse(self, data: dict[str, Any]) -> Chunk:
        tokens = [int(token) for token in data.get("tokens") or []]
        text = str(data.get("content") or "")
        predicted = data.get("tokens_predicted")
        counted = None if predicted is None else int(predicted)
        if not data.get("stop"):
            return Chunk(tokens, text, predicted=counted)
        finish: Finish = "eos" if data.get("stop_type") in ("eos", "word") else "limit"
        reused = int((data.get("timings") or {}).get("cache_n") or 0)
        return Chunk(tokens, text, finish, reused, counted)


class VllmWire:
    """vLLM's OpenAI-compatible `POST /v1/completions`: the prompt as token ids, ids back per
    chunk (`return_token_ids`), the constraint as structured outputs' JSON Schema; the closing
    tag of a tool call is written by the gateway once the JSON is done."""

    path = "/v1/completions"
    appends_closing = True

    def __init__(self, model: str) -> None:
        self._model = model

    def check(self, constraint: Constraint) -> None:
        json_grammar(constraint.json.schema, constraint.json.field)  # the same schemas as local

    def body(
        self, prompt: list[int], max_tokens: int, sampling: Sampling, constraint: Constraint | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "prompt": prompt,
            "max_tokens": max(1, max_tokens),  # vLLM wants one; a pre-warm discards it
            "stream": True,
            "stream_options": {"include_usage": True},
            "return_token_ids": True,
            # plain sampling unless asked (run vLLM with --generation-config vllm, so a
            # model's own generation_config.json does not change the defaults)
            "temperature": sampling.temperature,
            "top_p": 1.0 if sampling.top_p is None else sampling.top_p,
            "min_p": 0.0,
        }
        if sampling.top_k is not None:
            body["top_k"] = sampling.top_k
        if constraint is not None:
            body["structured_outputs"] = {"json": constraint.json.schema}
        return body

    def parse(self, data: dict[str, Any]) -> Chunk | None:
        choices = data.get("choices") or []
        usage = data.get("usage") or {}
        if not choices:
            if not usage:
                return None
            details = usage.get("prompt_tokens_details") or {}
            return Chunk([], "", reused=int(details.get("cached_tokens") or 0))
        choice = choices[0]
        tokens = [int(token) for token in choice.get("token_ids") or []]
        text = str(choice.get("text") or "")
        reason = choice.get("finish_reason")
        if reason is None:
            return Chunk(tokens, text)
        return Chunk(tokens, text, "limit" if reason == "length" else "eos")
