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
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
MODEL = "smollm2-135m-instruct-20250207"


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


def issue_keys(settings: Settings) -> CreatedAwsKey:
    """API_KEY, and an AWS access key pair, in the run's fresh database."""
    database = connect(settings.resolved_database_url())
    asyncio.run(KeyStore(database).create(name="claude-code", secret=API_KEY))
    store = AwsCredentialStore(database, Sealer(load_server_key(settings)))
    return asyncio.run(store.create(name="claude-code-aws"))


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """A real uvicorn on a free loopback port, in a thread; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def run_claude(args: argparse.Namespace, env: dict[str, str], model: str) -> str:
    command = [
        args.claude,
        "-p",
        args.prompt,
        "--system-prompt",
        "Answer in one short sentence.",
        "--tools",
        "",
        "--model",
        model,
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False
    )
    return (done.stdout + done.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--claude", default="/opt/claude-code/node_modules/.bin/claude")
    parser.add_argument("--prompt", default="Say hello.")
    parser.add_argument("--max-output-tokens", default="64")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/claude_code.json"))
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="parley-claude-code-") as scratch:
        settings = Settings(data_dir=Path(scratch) / "data")
        aws = issue_keys(settings)
        recorder = Recorder(create_app(settings))
        base = {
            "PATH": os.environ["PATH"],
            "HOME": str(Path(scratch) / "home"),
            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": args.max_output_tokens,
            "MAX_THINKING_TOKENS": "0",
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        runs: dict[str, Any] = {}
        with serving(recorder) as url:
            modes = {
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
            for mode, (extra, model) in modes.items():
                recorder.seen = []
                answer = run_claude(args, {**base, **extra}, model)
                runs[mode] = {"answer": answer, "requests": recorder.seen}
                console.print(f"[bold]Claude Code, {mode} mode: requests Parley received[/bold]")
                for seen in recorder.seen:
                    query = f"?{seen['query']}" if seen["query"] else ""
                    refusal = f"  {seen['refusal']}" if "refusal" in seen else ""
                    print(f"  {seen['method']} {seen['path']}{query} [{seen['auth']}]", end="")
                    print(f" -> {seen.get('status')}{refusal}")
                console.print(f"[bold]answer[/bold]: {answer}")
    write_json(args.out, {"model": MODEL, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
