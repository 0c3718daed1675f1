"""Real llama-server processes on the packaged SmolLM2 GGUF, on free loopback ports, for the
remote-engine tests (the binary from tests/llama_server_build.py)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from parley.domain.catalog import DEFAULT_MODEL, PackagedFile
from parley.engine.llama.locate import model_path
from tests.helpers import free_port
from tests.llama_server_build import ensure_built, server_env


def packaged_gguf() -> Path:
    assert isinstance(DEFAULT_MODEL.backend, PackagedFile)
    return model_path(DEFAULT_MODEL.backend, Path("/nonexistent"))


class LlamaServer:
    """One llama-server; `kill` stops it at once (a replica that dies)."""

    def __init__(self, log: Path, *, slots: int = 2, ctx: int = 16384, port: int = 0) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self.command = [
            str(ensure_built()),
            *("--model", str(packaged_gguf())),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("--threads", "1", "--threads-batch", "1"),
            *("--ctx-size", str(ctx), "--parallel", str(slots), "--kv-unified"),
            # plain weight buffers, as Parley's own engine: repacked AMX kernels crash here
            "--no-repack",
            "--no-webui",
        ]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 120) -> LlamaServer:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=server_env()
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama-server exited early; see {self._log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"llama-server was not ready in {wait} s; see {self._log}")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def llama_servers(count: int, logs: Path, **options: int) -> Iterator[list[LlamaServer]]:
    servers = [LlamaServer(logs / f"llama-server-{n}.log", **options) for n in range(count)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
