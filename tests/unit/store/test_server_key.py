"""The server key: one per data directory unless the setting gives it."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from parley.settings import Settings
from parley.store.server_key import load_server_key


def test_the_first_start_creates_a_key_file_only_its_owner_reads(tmp_path: Path) -> None:
    key = load_server_key(Settings(data_dir=tmp_path))
    mode = stat.S_IMODE((tmp_path / "server.key").stat().st_mode)
    assert (len(key), mode) == (32, 0o600)


def test_later_starts_read_the_same_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert load_server_key(settings) == load_server_key(settings)


def test_the_setting_wins_over_the_file(tmp_path: Path) -> None:
    given = bytes(range(32))
    settings = Settings(data_dir=tmp_path, server_key=SecretStr(base64.b64encode(given).decode()))
    assert load_server_key(settings) == given
    assert not (tmp_path / "server.key").exists()


def test_a_key_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, server_key=SecretStr(base64.b64encode(b"x").decode()))
    with pytest.raises(ValueError, match="32 bytes"):
        load_server_key(settings)
