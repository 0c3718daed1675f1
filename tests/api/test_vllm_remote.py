"""The vLLM adapter against recorded exchanges of vLLM's `POST /v1/completions` (requests as
Parley sends them, streams in the shapes vLLM documents: `token_ids` per chunk with
`return_token_ids`, a usage chunk with `prompt_tokens_details`, then `[DONE]`). A replay
server answers a request only if it is exactly the recorded one. vLLM itself cannot run on
the machines these tests run on (it needs a GPU host), so no live exchange is tested here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from parley.app import create_app
from parley.settings import ModelSource, Settings
from tests.helpers import API_KEY, MODEL, counter, create_keys, free_port, running
from tests.llama_servers import packaged_gguf

EXCHANGES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "data" / "vllm_exchanges.json").read_text()
)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def replay() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        for exchange in EXCHANGES:
            if exchange["request"] == body:
                frames = [
                    f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n"
                    for e in exchange["stream"]
                ]
                return Response("".join(frames), media_type="text/event-stream")
        return JSONResponse({"error": f"not a recorded request: {body}"}, 400)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {}

    return app


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running(replay(), free_port()) as vllm:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("vllm"),
            default_model=False,
            models=[
                ModelSource.model_validate(
                    {
                        "id": MODEL,
                        "backend": "vllm",
                        "urls": [vllm],
                        "gguf": packaged_gguf(),
                        "min_cache_tokens": 512,
                    }
                )
            ],
        )
        create_keys(settings)
        with (
            running(create_app(settings), free_port()) as parley,
            httpx.Client(
                base_url=parley,
                headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
                timeout=60,
            ) as client,
        ):
            yield client


def ask(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    answer = http.post("/v1/messages", json={"model": MODEL, "messages": QUESTION, **fields})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_an_answer_ending_at_end_of_sequence_is_end_turn(http: httpx.Client) -> None:
    message = ask(http, max_tokens=16, temperature=0)
    assert message["content"] == [{"type": "text", "text": "The capital of France is Paris."}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == 8  # seven text tokens and <|im_end|>


def test_input_tokens_are_the_token_ids_sent(http: httpx.Client) -> None:
    message = ask(http, max_tokens=16, temperature=0)
    assert message["usage"]["input_tokens"] == len(EXCHANGES[0]["request"]["prompt"]) == 37
    counted = http.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": QUESTION})
    assert counted.json() == {"input_tokens": 37}


def test_a_length_finish_is_max_tokens(http: httpx.Client) -> None:
    message = ask(http, max_tokens=3, temperature=0)
    assert message["content"] == [{"type": "text", "text": "The capital of"}]
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 3


def test_structured_output_goes_as_a_structured_outputs_json_schema(http: httpx.Client) -> None:
    message = ask(
        http,
        max_tokens=32,
        temperature=0,
        output_config={"format": {"type": "json_schema", "schema": CITY}},
    )
    assert EXCHANGES[2]["request"]["structured_outputs"] == {"json": CITY}
    assert json.loads(message["content"][0]["text"]) == {"city": "Paris"}


def test_a_streamed_answer_has_the_same_text(http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": QUESTION, "max_tokens": 16, "temperature": 0}
    with http.stream("POST", "/v1/messages", json={**body, "stream": True}) as response:
        datas = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data")]
    text = "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta")
    assert text == "The capital of France is Paris."
    assert datas[-1] == {"type": "message_stop"}


def test_cached_prompt_tokens_reported_by_vllm_reach_the_metrics(http: httpx.Client) -> None:
    name = "parley_replica_reused_tokens_total"
    ask(http, max_tokens=16, temperature=0)
    before = http.get("/metrics").text
    [line] = [line for line in before.splitlines() if line.startswith(name + "{")]
    replica = line.split('replica="')[1].split('"')[0]
    ask(http, max_tokens=16, temperature=0)
    after = http.get("/metrics").text
    assert counter(after, name, replica=replica) - counter(before, name, replica=replica) == 32
