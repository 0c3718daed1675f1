"""Runs the processes of a Procfile (`name: command` per line) side by side, each command
under bash, its output prefixed with its name; stops them all when one exits or on Ctrl-C /
SIGTERM. Standard library only: `python deploy/run.py [Procfile]`."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


def entries(procfile: Path) -> list[tuple[str, str]]:
    found = []
    for line in procfile.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            found.append((name.strip(), command.strip()))
    return found


def relay(name: str, stream: IO[bytes]) -> None:
    for line in stream:
        sys.stdout.write(f"{name:>10} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    procfile = Path(argv[1] if len(argv) > 1 else Path(__file__).with_name("Procfile"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in entries(procfile):
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        threading.Thread(target=relay, args=(name, process.stdout), daemon=True).start()
        processes[name] = process
    code = 0
    while not stopping.is_set():
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the others", flush=True)
                code = process.returncode or 1
                stopping.set()
        time.sleep(0.2)
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
