"""The engine benchmark's two targets: Parley's Messages API and llama-server's OpenAI-compatible
chat completions, each streamed and timed by the client in the same way."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from harness import parley_headers, sse_events


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
        return parley_headers(key)

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
