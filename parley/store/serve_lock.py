"""One serving process per SQLite database: SQLite, the in-process limiter and the in-process
cache registry are each this process's own, so a second replica on the same file would admit,
cap and bill on numbers the first one cannot see. An advisory lock file beside the database
says so at start instead; the operating system drops it when the process ends, however it
ends."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

SQLITE_PREFIX = "sqlite:///"


class AlreadyServing(RuntimeError):
    """Another process serves this SQLite database."""


class ServeLock:
    """Held for the life of `parley serve`; `None` of it for a database other than SQLite."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    @classmethod
    def acquire(cls, database_url: str) -> ServeLock | None:
        if not database_url.startswith(SQLITE_PREFIX):
            return None
        database = Path(database_url.removeprefix(SQLITE_PREFIX))
        path = database.with_name(database.name + ".serve.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyServing(_refusal(database, holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        self._handle.close()


def _refusal(database: Path, holder: str) -> str:
    return (
        f"another `parley serve` (pid {holder}) already serves the SQLite database {database}. "
        "Replicas cannot share SQLite or the in-process limits and prompt-cache registry: "
        "give every replica the same PostgreSQL database (`database_url`, "
        "PARLEY_DATABASE_URL) and the same Redis for rate limits (`limiter_url`, "
        "PARLEY_LIMITER_URL) and for the prompt-cache registry (`cache_registry_url`, "
        "PARLEY_CACHE_REGISTRY_URL); see docs/deploy.md."
    )
