"""API keys: created, imported and checked. Only a SHA-256 of each secret is stored.

Secrets are long random strings (or operator-imported ones), so a fast hash is right for
lookups; the final comparison is constant-time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from parley.domain.ids import new_id
from parley.domain.ports import CreatedKey, Principal
from parley.store.tables import api_keys
from parley.store.tenancy import DEFAULT_WORKSPACE, default_organization_in, workspace_in


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _hint(secret: str) -> str:
    return f"{secret[:14]}...{secret[-4:]}" if len(secret) > 24 else f"...{secret[-2:]}"


def generate_secret(admin: bool) -> str:
    kind = "admin01" if admin else "api03"
    return f"sk-ant-{kind}-{secrets.token_urlsafe(64)}AA"


class KeyStore:
    """Implements `ports.Keys` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def authenticate(self, secret: str) -> Principal | None:
        digest = _digest(secret)

        def find() -> Principal | None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(api_keys).where(api_keys.c.secret_sha256 == digest)
                ).first()
            if row is None or not hmac.compare_digest(row.secret_sha256, digest):
                return None
            if row.status != "active":
                return None
            return Principal(
                key_id=row.id,
                organization_id=row.organization_id,
                workspace_id=row.workspace_id or "",
                is_admin=row.is_admin,
            )

        return await asyncio.to_thread(find)

    async def create(
        self,
        *,
        name: str,
        workspace: str = DEFAULT_WORKSPACE,
        admin: bool = False,
        secret: str | None = None,
    ) -> CreatedKey:
        """A new key (or `secret` imported) in the default organization's `workspace`, both
        created if missing; ValueError if the secret is already a key's."""
        secret = secret or generate_secret(admin)
        digest = _digest(secret)

        def insert() -> CreatedKey:
            now = datetime.now(UTC)
            with self._engine.begin() as conn:
                org_id = default_organization_in(conn, now)
                workspace_id = workspace_in(conn, org_id, workspace, now)
                if conn.execute(
                    select(api_keys.c.id).where(api_keys.c.secret_sha256 == digest)
                ).first():
                    raise ValueError("a key with this secret already exists")
                key_id = new_id("apikey_")
                conn.execute(
                    api_keys.insert().values(
                        id=key_id,
                        organization_id=org_id,
                        workspace_id=None if admin else workspace_id,
                        name=name,
                        secret_sha256=digest,
                        partial_key_hint=_hint(secret),
                        is_admin=admin,
                        status="active",
                        created_at=now,
                    )
                )
            principal = Principal(key_id, org_id, "" if admin else workspace_id, admin)
            return CreatedKey(principal=principal, secret=secret, name=name)

        return await asyncio.to_thread(insert)
