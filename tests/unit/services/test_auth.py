"""A bad key is named after the header it came in."""

from __future__ import annotations

import asyncio

import pytest

from parley.domain.ports import Principal
from parley.errors import AuthenticationError
from parley.services.auth import AuthService


class FakeKeys:
    """Knows no key at all."""

    async def authenticate(self, secret: str) -> Principal | None:
        return None


def refusal(x_api_key: str | None, authorization: str | None) -> str:
    with pytest.raises(AuthenticationError) as raised:
        asyncio.run(AuthService(FakeKeys()).authenticate(x_api_key, authorization))
    return raised.value.message


def test_a_bad_x_api_key_is_called_an_invalid_x_api_key() -> None:
    assert refusal("sk-ant-api03-wrong", None) == "invalid x-api-key"


def test_a_bad_bearer_token_is_not_called_an_x_api_key() -> None:
    assert refusal(None, "Bearer sk-ant-api03-wrong") == "invalid API key in Authorization: Bearer"
