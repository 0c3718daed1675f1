"""Finds the GGUF file behind a catalog backend: packaged, local, or downloaded once from a hub."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import httpx

from parley.domain.catalog import AssembledFile, HubFile, LocalBackend, LocalFile, PackagedFile

HUB_URL = "https://huggingface.co/{repo}/resolve/main/{file}"


def model_path(backend: LocalBackend, data_dir: Path) -> Path:
    if isinstance(backend, PackagedFile):
        path = _packaged(backend)
    elif isinstance(backend, AssembledFile):
        path = _assemble(backend, data_dir / "models")
    elif isinstance(backend, LocalFile):
        path = backend.path.expanduser()
    else:
        path = _download(backend, data_dir / "models")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def _packaged(file: PackagedFile) -> Path:
    """locate_file reads the installed files list without importing the package."""
    return Path(str(importlib.metadata.distribution(file.distribution).locate_file(file.path)))


def _assemble(assembled: AssembledFile, into: Path) -> Path:
    """Joins the chunks once; the whole file's digest is checked before it is used. Later
    starts check only its size (hashing 250 MB on every start would cost a second)."""
    chunks = [_packaged(chunk) for chunk in assembled.chunks]
    missing = [str(chunk) for chunk in chunks if not chunk.is_file()]
    if missing:
        raise FileNotFoundError(f"model chunks not installed: {', '.join(missing)}")
    target = into / assembled.name
    size = sum(chunk.stat().st_size for chunk in chunks)
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != assembled.sha256:
        partial.unlink()
        raise ValueError(f"{assembled.name}: the assembled chunks do not match its sha256")
    partial.rename(target)
    return target


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
