"""One `parley serve` per SQLite database: a second lock on the same file is refused with the
settings that make replicas possible; other databases take no lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parley.store.serve_lock import AlreadyServing, ServeLock


def test_a_second_lock_on_one_sqlite_database_is_refused_with_the_shared_settings(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    first = ServeLock.acquire(url)
    with pytest.raises(AlreadyServing) as refused:
        ServeLock.acquire(url)
    assert first is not None
    first.release()
    message = str(refused.value)
    assert f"(pid {os.getpid()})" in message
    for setting in ("database_url", "limiter_url", "cache_registry_url"):
        assert f"`{setting}`" in message


def test_the_lock_is_free_again_once_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    first = ServeLock.acquire(url)
    assert first is not None
    first.release()
    again = ServeLock.acquire(url)
    assert again is not None
    again.release()


def test_two_sqlite_databases_are_locked_apart(tmp_path: Path) -> None:
    one = ServeLock.acquire(f"sqlite:///{tmp_path / 'one.db'}")
    two = ServeLock.acquire(f"sqlite:///{tmp_path / 'two.db'}")
    assert one is not None and two is not None
    one.release()
    two.release()


def test_postgresql_takes_no_lock() -> None:
    assert ServeLock.acquire("postgresql+psycopg://postgres@127.0.0.1:5432/test") is None
