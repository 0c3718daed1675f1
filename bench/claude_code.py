"""Claude Code against Parley's partner-cloud shapes: a repeatable run that shows what it sends.

Serves the packaged model on a loopback port from a fresh data directory (an API key and an AWS
access key pair issued into it), then runs Claude Code (`claude -p`) once in Bedrock mode
(`CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL`, AWS credentials in the environment:
SigV4) and once in Vertex mode (`CLAUDE_CODE_USE_VERTEX=1`, `ANTHROPIC_VERTEX_BASE_URL`,
`CLAUDE_CODE_SKIP_VERTEX_AUTH=1` with the key sent as `Authorization: Bearer` through
`ANTHROPIC_CUSTOM_HEADERS`). Every request the server receives is recorded (method, path,
status, auth scheme, the error message of a refusal) and printed with Claude Code's answer.

The packaged model's 8k window is too small for Claude Code's default system prompt and tools,
so the run passes a short `--system-prompt`, `--tools ""` and `MAX_THINKING_TOKENS=0`.

    python bench/claude_code.py --claude /opt/claude-code/node_modules/.bin/claude
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness import write_json
from parley.app import create_app
from parley.domain.sealing import Sealer
from parley.settings import Settings
from parley.store.aws_credentials import AwsCredentialStore, CreatedAwsKey
from parley.store.db import connect
from parley.store.keys import KeyStore
from parley.store.server_key import load_server_key

API_KEY = "sk-ant-api03-claude-code-run-0123456789"


class Recorder:
    """ASGI middleware that notes each request and, for a refusal, the message it got."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "auth": headers.get("authorization", "-").split(" ")[0],
        }
        self.seen.append(entry)

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            elif message["type"] == "http.response.body" and entry.get("status", 200) >= 400:
                entry["refusal"] = message.get("body", b"")[:300].decode(errors="replace")
            await send(message)

        await self.app(scope, receive, noting)


async def issue_keys(settings: Settings) -> CreatedAwsKey:
    """API_KEY, and an AWS access key pair, in the run's fresh database."""
    database = connect(settings.resolved_database_url())
    await KeyStore(database).create(name="claude-code", secret=API_KEY)
    return await AwsCredentialStore(database, Sealer(load_server_key(settings))).create(
        name="claude-code-aws"
    )


def modes(url: str, aws: CreatedAwsKey) -> dict[str, tuple[dict[str, str], str]]:
    """Each mode's environment, and the model id it asks for."""
    return {
        "bedrock": (
            {
                "CLAUDE_CODE_USE_BEDROCK": "1",
                "ANTHROPIC_BEDROCK_BASE_URL": url,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": aws.access_key_id,
                "AWS_SECRET_ACCESS_KEY": aws.secret_access_key,
            },
            "us.anthropic.smollm2-135m-instruct-20250207-v1:0",
        ),
        "vertex": (
            {
                "CLAUDE_CODE_USE_VERTEX": "1",
                "ANTHROPIC_VERTEX_BASE_URL": f"{url}/v1",
                "CLOUD_ML_REGION": "us-east5",
                "ANTHROPIC_VERTEX_PROJECT_ID": "parley",
                "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
                "ANTHROPIC_CUSTOM_HEADERS": f"Authorization: Bearer {API_KEY}",
            },
            "smollm2-135m-instruct@20250207",
        ),
    }


async def run_claude(args: argparse.Namespace, env: dict[str, str], model: str) -> str:
    process = await asyncio.create_subprocess_exec(
        args.claude,
        "-p",
        args.prompt,
        "--system-prompt",
        "Answer in one short sentence.",
        "--tools",
        "",
        "--model",
        model,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), args.timeout)
    return output.decode().strip()


def show(mode: str, answer: str, seen: list[dict[str, Any]]) -> None:
    Console().print(f"[bold]Claude Code, {mode} mode: requests Parley received[/bold]")
    for request in seen:
        query = f"?{request['query']}" if request["query"] else ""
        refusal = f"  {request['refusal']}" if "refusal" in request else ""
        print(f"  {request['method']} {request['path']}{query} [{request['auth']}]", end="")
        print(f" -> {request.get('status')}{refusal}")
    print(f"answer: {answer}")


async def session(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Serves a fresh Parley in this event loop while Claude Code runs in each mode."""
    settings = Settings(data_dir=scratch / "data")
    aws = await issue_keys(settings)
    recorder = Recorder(create_app(settings))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(recorder, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise SystemExit("the server did not start")
        await asyncio.sleep(0.1)
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(scratch / "home"),
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": args.max_output_tokens,
        "MAX_THINKING_TOKENS": "0",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    runs: dict[str, Any] = {}
    try:
        for mode, (extra, model) in modes(f"http://127.0.0.1:{port}", aws).items():
            recorder.seen = []
            answer = await run_claude(args, {**base, **extra}, model)
            runs[mode] = {"model": model, "answer": answer, "requests": recorder.seen}
            show(mode, answer, recorder.seen)
    finally:
        server.should_exit = True
        await serving
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--claude", default="/opt/claude-code/node_modules/.bin/claude")
    parser.add_argument("--prompt", default="Say hello.")
    parser.add_argument("--max-output-tokens", default="512")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/claude_code.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="parley-claude-code-") as scratch:
        runs = asyncio.run(session(args, Path(scratch)))
    write_json(args.out, {"runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
