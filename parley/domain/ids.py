"""Object ids in the hosted API's shapes: a prefix and a random base-62 tail."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "01" + "".join(secrets.choice(_ALPHABET) for _ in range(length - 2))


def message_id() -> str:
    return new_id("msg_")


def request_id() -> str:
    return new_id("req_")


def tool_use_id() -> str:
    return new_id("toolu_")
