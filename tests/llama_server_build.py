"""Builds llama.cpp's `llama-server` once, from the llama.cpp sources inside the source
distribution of the llama-cpp-python version Parley pins, into a cache folder outside the
repository; later calls reuse it. Tests of the remote engine and bench/scale.py run it.

`python -m tests.llama_server_build` builds it (about ten minutes on two cores) and prints the
binary's path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
CACHE_ENV = "PARLEY_LLAMA_SERVER_CACHE"


def cache_dir() -> Path:
    """~/.cache/parley/llama-server-<version>, or the folder PARLEY_LLAMA_SERVER_CACHE names."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "parley" / f"llama-server-{LLAMA_CPP_PYTHON}"


def binary_path() -> Path:
    return cache_dir() / "bin" / "llama-server"


def pinned_version() -> str:
    """The llama-cpp-python this environment runs: the sources must be the same llama.cpp."""
    return metadata.version("llama-cpp-python")


def _download_sdist(into: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
            "-d",
            str(into),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return next(into.glob("llama_cpp_python-*.tar.gz"))


def _unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return next(into.glob("llama_cpp_python-*")) / "vendor" / "llama.cpp"


def _compile(source: Path, jobs: int) -> Path:
    build = source / "build"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(source),
            "-B",
            str(build),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_CURL=OFF",
            "-DGGML_NATIVE=ON",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DCMAKE_BUILD_RPATH=$ORIGIN",  # the libraries beside it, once moved into the cache
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return build / "bin"


def ensure_built(jobs: int = 2) -> Path:
    """The cached binary, built first if it is missing. The build lands in a temporary
    folder and is moved into place whole, so an interrupted build is never taken as done."""
    binary = binary_path()
    if binary.is_file():
        return binary
    target = cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as scratch:
        work = Path(scratch)
        source = _unpack(_download_sdist(work), work)
        built = _compile(source, jobs)
        staged = work / "staged"
        # the binary loads the shared libraries beside it
        shutil.copytree(built, staged / "bin")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return binary


def server_env() -> dict[str, str]:
    """The environment to run the cached binary in: its shared libraries are beside it (a
    build made before `$ORIGIN` was in its run path still points at its build folder)."""
    folder = str(binary_path().parent)
    inherited = os.environ.get("LD_LIBRARY_PATH")
    return {**os.environ, "LD_LIBRARY_PATH": f"{folder}:{inherited}" if inherited else folder}


if __name__ == "__main__":
    print(ensure_built(jobs=int(sys.argv[1]) if len(sys.argv) > 1 else 2))
