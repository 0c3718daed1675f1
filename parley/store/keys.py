"""API keys: created, imported and checked. Only a SHA-256 of each secret is stored.

Secrets are long random strings (or operator-imported ones), so a fast hash is right for
lookups; the final comparison is constant-time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

from parley.domain.ids import new_id
from parley.domain.ports import CreatedKey, Principal
from parley.store.tables import api_keys, organizations, workspaces

DEFAULT_ORGANIZATION = "Default Organization"
DEFAULT_WORKSPACE = "default"


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
        return await asyncio.to_thread(self.authenticate_sync, secret)

    def authenticate_sync(self, secret: str) -> Principal | None:
        digest = _digest(secret)
        with self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.secret_sha256 == digest)).first()
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

    def create(
        self,
        *,
        name: str,
        workspace: str = DEFAULT_WORKSPACE,
        admin: bool = False,
        secret: str | None = None,
    ) -> CreatedKey:
        secret = secret or generate_secret(admin)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            org_id = self._default_organization(conn, now)
            workspace_id = self.workspace_in(conn, org_id, workspace, now)
            if conn.execute(
                select(api_keys.c.id).where(api_keys.c.secret_sha256 == _digest(secret))
            ).first():
                raise ValueError("a key with this secret already exists")
            key_id = new_id("apikey_")
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    organization_id=org_id,
                    workspace_id=None if admin else workspace_id,
                    name=name,
                    secret_sha256=_digest(secret),
                    partial_key_hint=_hint(secret),
                    is_admin=admin,
                    status="active",
                    created_at=now,
                )
            )
        principal = Principal(key_id, org_id, "" if admin else workspace_id, admin)
        return CreatedKey(principal=principal, secret=secret, name=name)

    @staticmethod
    def _default_organization(conn: Connection, now: datetime) -> str:
        row = conn.execute(select(organizations.c.id).order_by(organizations.c.created_at)).first()
        if row is not None:
            return str(row.id)
        org_id = str(uuid.uuid4())
        conn.execute(
            organizations.insert().values(id=org_id, name=DEFAULT_ORGANIZATION, created_at=now)
        )
        return org_id

    @staticmethod
    def workspace_in(conn: Connection, org_id: str, name: str, now: datetime) -> str:
        """The id of the organization's workspace called `name`, created if missing."""
        row = conn.execute(
            select(workspaces.c.id).where(
                workspaces.c.organization_id == org_id, workspaces.c.name == name
            )
        ).first()
        if row is not None:
            return str(row.id)
        workspace_id = new_id("wrkspc_")
        conn.execute(
            workspaces.insert().values(
                id=workspace_id, organization_id=org_id, name=name, created_at=now
            )
        )
        return workspace_id
