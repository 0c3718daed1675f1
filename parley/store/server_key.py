"""The server's sealing key: from the `server_key` setting, or a file in the data directory
that the first start creates (readable by its owner only). Replicas that share a database or
Redis must share the key, so they set it explicitly."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from parley.domain.sealing import KEY_BYTES, new_key
from parley.settings import Settings

KEY_FILE = "server.key"


def load_server_key(settings: Settings) -> bytes:
    if settings.server_key is not None:
        key = base64.b64decode(settings.server_key.get_secret_value(), validate=True)
        if len(key) != KEY_BYTES:
            raise ValueError(f"server_key must be base64 of {KEY_BYTES} bytes")
        return key
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create(path)
    key = base64.b64decode(path.read_text().strip(), validate=True)
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} must hold base64 of {KEY_BYTES} bytes")
    return key


def _create(path: Path) -> None:
    """Written to a temporary name and linked into place, so two processes starting at once
    agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(new_key()).decode())
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()
