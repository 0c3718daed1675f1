"""The log of a real `parley serve`, read as an operator reads it: one access line per request
with who, what and how long; no secrets and no prompt text unless turned on; /metrics
histograms of latency and time to first token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.domain.ports import Principal
from parley.settings import Settings
from tests.helpers import API_KEY, MODEL, counter, create_keys, free_port
from tests.process import ServerProcess, server_process

pytestmark = pytest.mark.slow
MARKER = "Zanzibar-7421"  # a prompt word that must not reach the log
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
QUESTION = {
    "model": MODEL,
    "max_tokens": 3,
    "messages": [{"role": "user", "content": f"Where is {MARKER}?"}],
}


@pytest.fixture()
def principal(tmp_path: Path) -> Principal:
    return create_keys(Settings(data_dir=tmp_path))[API_KEY]


@pytest.fixture()
def json_server(tmp_path: Path, principal: Principal) -> Iterator[ServerProcess]:
    with server_process(tmp_path, free_port(), {"PARLEY_LOGGING__FORMAT": "json"}) as server:
        yield server


def access_lines(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """The JSON access lines, by request id."""
    lines = [json.loads(line) for line in server.lines() if line.startswith("{")]
    return {line["request_id"]: line for line in lines if line["type"] == "access"}


def stream_usage(response: httpx.Response) -> dict[str, int]:
    usage: dict[str, int] = {}
    for line in response.text.splitlines():
        if line.startswith("data:"):
            event = json.loads(line[5:])
            if event["type"] == "message_start":
                usage["input_tokens"] = event["message"]["usage"]["input_tokens"]
            elif event["type"] == "message_delta":
                usage["output_tokens"] = event["usage"]["output_tokens"]
    return usage


def test_each_request_has_one_access_line_with_who_what_and_how_long(
    json_server: ServerProcess, principal: Principal
) -> None:
    with httpx.Client(base_url=json_server.url, headers=HEADERS, timeout=60) as http:
        answered = http.post("/v1/messages", json=QUESTION)
        streamed = http.post("/v1/messages", json={**QUESTION, "stream": True})
        unknown = http.post("/v1/messages", json=QUESTION, headers={"x-api-key": "sk-ant-nope"})
        invalid = http.post("/v1/messages", json={**QUESTION, "max_tokens": -1})
    json_server.stop()
    lines = access_lines(json_server)
    assert len(lines) == 4 + 1  # and the start-up's /healthz
    who = {
        "organization_id": principal.organization_id,
        "workspace_id": principal.workspace_id,
        "key_id": principal.key_id,
    }
    where = {"surface": "claude_api", "region": "global", "model": MODEL}
    for response, usage in (
        (answered, answered.json()["usage"]),
        (streamed, stream_usage(streamed)),
    ):
        line = lines[response.headers["request-id"]]
        assert line | who | where == line
        assert (line["method"], line["path"], line["status"], line["error_type"]) == (
            "POST",
            "/v1/messages",
            200,
            None,
        )
        assert (line["input_tokens"], line["output_tokens"]) == (
            usage["input_tokens"],
            usage["output_tokens"],
        )
        assert (line["cache_creation_input_tokens"], line["cache_read_input_tokens"]) == (0, 0)
        assert 0 < line["ttft_ms"] <= line["total_ms"]
    refused = lines[unknown.headers["request-id"]]
    assert (refused["status"], refused["error_type"], refused["key_id"]) == (
        401,
        "authentication_error",
        None,
    )
    bad = lines[invalid.headers["request-id"]]
    assert (bad["status"], bad["error_type"], bad["key_id"]) == (
        400,
        "invalid_request_error",
        principal.key_id,
    )


def test_the_log_holds_no_secret_and_no_prompt_text(json_server: ServerProcess) -> None:
    with httpx.Client(base_url=json_server.url, headers=HEADERS, timeout=60) as http:
        assert http.post("/v1/messages", json=QUESTION).status_code == 200
        http.post("/v1/messages", json=QUESTION, headers={"x-api-key": API_KEY + "x"})
    json_server.stop()
    log = json_server.log.read_text()
    assert API_KEY not in log
    assert MARKER not in log


def test_metrics_has_latency_and_first_token_histograms_by_route_model_and_status(
    json_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=json_server.url, headers=HEADERS, timeout=60) as http:
        for _ in range(2):
            assert http.post("/v1/messages", json=QUESTION).status_code == 200
        http.post("/v1/messages", json={**QUESTION, "max_tokens": -1})
        metrics = http.get("/metrics").text
    labels = {"route": "/v1/messages", "status": "200"}
    assert counter(metrics, "parley_request_seconds_count", **labels) == 2
    assert counter(metrics, "parley_time_to_first_token_seconds_count", **labels) == 2
    invalid = {"model": "", "route": "/v1/messages", "status": "400"}
    assert counter(metrics, "parley_request_seconds_count", **invalid) == 1


def test_text_lines_and_prompts_when_the_operator_turns_them_on(
    tmp_path: Path, principal: Principal
) -> None:
    env = {"PARLEY_LOGGING__FORMAT": "text", "PARLEY_LOGGING__PROMPTS": "true"}
    with server_process(tmp_path, free_port(), env) as server:
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=60) as http:
            answered = http.post("/v1/messages", json=QUESTION)
        server.stop()
        [line] = [x for x in server.lines() if answered.headers["request-id"] in x]
    assert line.split(" ")[1:5] == [
        "access",
        f"request_id={answered.headers['request-id']}",
        "method=POST",
        "path=/v1/messages",
    ]
    assert f" key_id={principal.key_id} " in line
    assert " status=200 error_type=- " in line
    assert MARKER in line
