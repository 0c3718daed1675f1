"""Claude Code unchanged against a model Parley serves from packages alone: its default
request (full system prompt and tools, recorded once from `claude -p` 2.1.197, with
ANTHROPIC_MODEL=gemma3-270m) is replayed against the packaged Gemma 3 270M through to a 200
and the first streamed token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.app import create_app
from parley.settings import EngineSettings, Settings
from tests.helpers import API_KEY, create_keys, free_port, running

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "claude_code_default_request.json"
# What Claude Code 2.1.197 sent with its body (its API key aside).
HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
    "thinking-token-count-2026-05-13,context-management-2025-06-27,"
    "prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24",
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gemma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("gemma"),
        port=free_port(),
        default_model=False,
        gemma_model=True,
        engine=EngineSettings(threads=2, kv_cells=16384, max_sequences=2, queue_limit=4),
    )
    create_keys(settings)
    with running(create_app(settings), settings.port) as url:
        yield url


def replay(url: str, path: str, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], float]:
    """Posts `body` as Claude Code does; reads the stream up to the first content delta (then
    leaves, which stops generating). The status, the events read, and seconds to that delta."""
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    headers = {**HEADERS, "x-api-key": API_KEY}
    with (
        httpx.Client(base_url=url, timeout=600) as http,
        http.stream("POST", path, json=body, headers=headers) as response,
    ):
        if response.status_code != 200:
            response.read()
            return response.status_code, [response.json()], 0.0
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == "content_block_delta":
                    break
    return 200, events, time.monotonic() - started


def test_claude_codes_default_request_gets_a_200_from_the_packaged_gemma(gemma_url: str) -> None:
    body = json.loads(RECORDED.read_text())
    assert len(body["tools"]) == 25 and body["max_tokens"] == 32000
    status, events, seconds = replay(gemma_url, "/v1/messages?beta=true", body)
    assert status == 200, events
    start = events[0]
    assert start["type"] == "message_start"
    assert start["message"]["model"] == "gemma-3-270m-20250814"
    usage = start["message"]["usage"]
    prompt = (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )
    assert prompt > 10_000
    assert events[-1]["type"] == "content_block_delta"
    print(f"\nClaude Code's default request: {prompt} tokens, first token after {seconds:.1f} s")
