"""Finds the GGUF file behind a catalog backend: packaged, local, or downloaded once from a hub."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import httpx

from parley.domain.catalog import HubFile, LocalBackend, LocalFile, PackagedFile

HUB_URL = "https://huggingface.co/{repo}/resolve/main/{file}"


def model_path(backend: LocalBackend, data_dir: Path) -> Path:
    if isinstance(backend, PackagedFile):
        # locate_file reads the installed files list without importing the package
        located = importlib.metadata.distribution(backend.distribution).locate_file(backend.path)
        path = Path(str(located))
    elif isinstance(backend, LocalFile):
        path = backend.path.expanduser()
    else:
        path = _download(backend, data_dir / "models")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def _download(hub: HubFile, into: Path) -> Path:
    target = into / hub.repo.replace("/", "--") / hub.file
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    url = HUB_URL.format(repo=hub.repo, file=hub.file)
    with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
        response.raise_for_status()
        with partial.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
    partial.rename(target)
    return target
