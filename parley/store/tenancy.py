"""Workspaces, API keys and organizations' standing, for the admin API and the shell."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select, update

from parley.domain.tenancy import KeyInfo, WorkspaceInfo
from parley.store.keys import KeyStore
from parley.store.tables import api_keys, organizations, workspaces


class TenancyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def create_workspace(self, organization_id: str, name: str) -> WorkspaceInfo:
        def create() -> WorkspaceInfo:
            with self._engine.begin() as conn:
                KeyStore.workspace_in(conn, organization_id, name, datetime.now(UTC))
            return next(w for w in self.workspaces_sync(organization_id) if w.name == name)

        return await asyncio.to_thread(create)

    async def workspaces(self, organization_id: str) -> list[WorkspaceInfo]:
        return await asyncio.to_thread(self.workspaces_sync, organization_id)

    def workspaces_sync(self, organization_id: str) -> list[WorkspaceInfo]:
        query = (
            select(workspaces)
            .where(workspaces.c.organization_id == organization_id)
            .order_by(workspaces.c.created_at.desc(), workspaces.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [WorkspaceInfo(r.id, r.name, _utc(r.created_at)) for r in rows]

    async def keys(self, organization_id: str) -> list[KeyInfo]:
        return await asyncio.to_thread(self.keys_sync, organization_id)

    def keys_sync(self, organization_id: str) -> list[KeyInfo]:
        query = (
            select(api_keys)
            .where(api_keys.c.organization_id == organization_id)
            .order_by(api_keys.c.created_at.desc(), api_keys.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            KeyInfo(
                r.id,
                r.name,
                r.status,
                r.workspace_id,
                r.partial_key_hint,
                r.is_admin,
                _utc(r.created_at),
            )
            for r in rows
        ]

    async def update_key(
        self, organization_id: str, key_id: str, *, name: str | None, status: str | None
    ) -> KeyInfo | None:
        def change() -> KeyInfo | None:
            values: dict[str, str] = {}
            if name is not None:
                values["name"] = name
            if status is not None:
                values["status"] = status
            if values:
                with self._engine.begin() as conn:
                    conn.execute(
                        update(api_keys)
                        .where(api_keys.c.id == key_id)
                        .where(api_keys.c.organization_id == organization_id)
                        .values(**values)
                    )
            return next((k for k in self.keys_sync(organization_id) if k.id == key_id), None)

        return await asyncio.to_thread(change)

    async def add_credit(self, organization_id: str, amount: Decimal) -> Decimal:
        """Records a credit purchase; returns the organization's cumulative purchases."""

        def add() -> Decimal:
            with self._engine.begin() as conn:
                current = conn.execute(
                    select(organizations.c.credit_purchased).where(
                        organizations.c.id == organization_id
                    )
                ).scalar_one()
                total = Decimal(current) + amount
                conn.execute(
                    update(organizations)
                    .where(organizations.c.id == organization_id)
                    .values(credit_purchased=total)
                )
            return total

        return await asyncio.to_thread(add)

    async def set_tier(self, organization_id: str, tier: str) -> None:
        def write() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    update(organizations)
                    .where(organizations.c.id == organization_id)
                    .values(tier=tier)
                )

        await asyncio.to_thread(write)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
