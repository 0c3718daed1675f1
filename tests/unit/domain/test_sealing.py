"""Sealing secrets at rest with the server key."""

from __future__ import annotations

import pytest

from parley.domain.sealing import Sealer, SealError, new_key


def test_a_sealed_value_opens_with_its_key_and_context() -> None:
    sealer = Sealer(new_key())
    assert sealer.open(sealer.seal(b"secret", b"ctx"), b"ctx") == b"secret"


def test_sealing_twice_gives_different_bytes() -> None:
    sealer = Sealer(new_key())
    assert sealer.seal(b"secret", b"ctx") != sealer.seal(b"secret", b"ctx")


def test_the_plaintext_does_not_appear_in_the_sealed_bytes() -> None:
    assert b"hunter2" not in Sealer(new_key()).seal(b"hunter2", b"ctx")


def test_another_context_cannot_open_it() -> None:
    sealer = Sealer(new_key())
    with pytest.raises(SealError):
        sealer.open(sealer.seal(b"secret", b"key-1"), b"key-2")


def test_another_key_cannot_open_it() -> None:
    sealed = Sealer(new_key()).seal(b"secret", b"ctx")
    with pytest.raises(SealError):
        Sealer(new_key()).open(sealed, b"ctx")


def test_an_altered_value_cannot_be_opened() -> None:
    sealer = Sealer(new_key())
    sealed = bytearray(sealer.seal(b"secret", b"ctx"))
    sealed[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(sealed), b"ctx")


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(b"short")
