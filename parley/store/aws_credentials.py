"""AWS access keys for SigV4 on the Bedrock surface. A signature can only be checked with the
secret itself, so the secret is kept sealed (domain/sealing.py, bound to its access key id)
rather than hashed. Each access key belongs to an API key: disabling either stops it at once,
since every request reads both statuses."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from parley.domain.ports import AwsSecret, Principal
from parley.domain.sealing import Sealer
from parley.store.keys import KeyStore
from parley.store.tables import api_keys, aws_credentials
from parley.store.tenancy import DEFAULT_WORKSPACE

ACCESS_KEY_PREFIX = "AKIA"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class CreatedAwsKey:
    principal: Principal
    access_key_id: str
    secret_access_key: str


def is_access_key_id(value: str) -> bool:
    return value.startswith(ACCESS_KEY_PREFIX) and len(value) == 20


class AwsCredentialStore:
    """Implements `ports.AwsCredentials` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer

    async def create(self, *, name: str, workspace: str = DEFAULT_WORKSPACE) -> CreatedAwsKey:
        """A new API key in `workspace` and an access key of its own; the API key's secret
        is never shown (the access key is its way in)."""
        key = await KeyStore(self._engine).create(name=name, workspace=workspace)
        access_key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        secret = secrets.token_urlsafe(30)
        sealed = self._sealer.seal(secret.encode(), access_key_id.encode())

        def insert() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    aws_credentials.insert().values(
                        access_key_id=access_key_id,
                        api_key_id=key.principal.key_id,
                        secret_sealed=sealed,
                        status="active",
                        created_at=datetime.now(UTC),
                    )
                )

        await asyncio.to_thread(insert)
        return CreatedAwsKey(key.principal, access_key_id, secret)

    async def secret_for(self, access_key_id: str) -> AwsSecret | None:
        def find() -> AwsSecret | None:
            query = (
                select(aws_credentials.c.secret_sealed, api_keys)
                .join(api_keys, api_keys.c.id == aws_credentials.c.api_key_id)
                .where(
                    aws_credentials.c.access_key_id == access_key_id,
                    aws_credentials.c.status == "active",
                    api_keys.c.status == "active",
                )
            )
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
            if row is None:
                return None
            secret = self._sealer.open(row.secret_sealed, access_key_id.encode())
            principal = Principal(
                key_id=row.id,
                organization_id=row.organization_id,
                workspace_id=row.workspace_id or "",
                is_admin=row.is_admin,
            )
            return AwsSecret(principal, secret.decode())

        return await asyncio.to_thread(find)

    async def disable(self, access_key_id: str) -> bool:
        """False if there is no such access key."""

        def change() -> bool:
            with self._engine.begin() as conn:
                result = conn.execute(
                    update(aws_credentials)
                    .where(aws_credentials.c.access_key_id == access_key_id)
                    .values(status="inactive")
                )
            return result.rowcount > 0

        return await asyncio.to_thread(change)
