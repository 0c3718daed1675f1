"""Claude Code unchanged against a model Parley serves from packages alone: its default
request (full system prompt and tools, recorded once from `claude -p` 2.1.197, with
ANTHROPIC_MODEL=gemma3-270m) is replayed against the packaged Gemma 3 270M through to a 200
and its stream's message_start (prefilling its ~22,700 tokens takes minutes on a loaded small
machine; bench/claude_code_prefill.py measures it). Gemma's file has no chat template: it is
prompted in Gemma's turn format, known by its architecture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
import pytest

from parley.app import create_app
from parley.domain.catalog import GEMMA3_270M
from parley.engine.llama.locate import model_path
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
def gemma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gemma")


@pytest.fixture(scope="module")
def gemma_url(gemma_dir: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=gemma_dir,
        port=free_port(),
        default_model=False,
        gemma_model=True,
        engine=EngineSettings(threads=2, kv_cells=32768, max_sequences=2, queue_limit=4),
    )
    create_keys(settings)
    with running(create_app(settings), settings.port) as url:
        yield url


def replay(url: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Posts `body` as Claude Code does and reads its stream's first event (then leaves,
    which stops generating): the status, and that event or the error."""
    headers = {**HEADERS, "x-api-key": API_KEY}
    with (
        httpx.Client(base_url=url, timeout=120) as http,
        http.stream("POST", path, json=body, headers=headers) as response,
    ):
        if response.status_code != 200:
            response.read()
            return response.status_code, response.json()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                return 200, json.loads(line[6:])
    raise AssertionError("the stream ended without an event")


def test_claude_codes_default_request_gets_a_200_from_the_packaged_gemma(gemma_url: str) -> None:
    body = json.loads(RECORDED.read_text())
    assert len(body["tools"]) == 25 and body["max_tokens"] == 32000
    status, event = replay(gemma_url, "/v1/messages?beta=true", body)
    assert status == 200, event
    assert event["type"] == "message_start"
    assert event["message"]["model"] == "gemma-3-270m-20250814"
    usage = event["message"]["usage"]
    prompt = (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )
    assert 20_000 < prompt < 32_768  # past SmolLM2's 8k window, within Gemma's 32k


def test_gemma_is_prompted_in_its_own_turn_format(gemma_url: str, gemma_dir: Path) -> None:
    """The count equals that of Gemma's format, by the file's own tokenizer (an oracle
    independent of the server)."""
    vocab = llama_cpp.Llama(
        str(model_path(GEMMA3_270M.backend, gemma_dir)), vocab_only=True, verbose=False
    )
    expected = (
        "<bos><start_of_turn>user\nBe brief.\n\nName three prime numbers.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    body = {
        "model": "gemma3-270m",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Name three prime numbers."}],
    }
    headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    counted = httpx.post(f"{gemma_url}/v1/messages/count_tokens", json=body, headers=headers)
    assert counted.status_code == 200
    tokens = vocab.tokenize(expected.encode(), add_bos=False, special=True)
    assert counted.json() == {"input_tokens": len(tokens)}
