"""Organizations and what they own: workspaces, the listing of keys, credit and tier.

The one place that finds (or makes) the default organization and a workspace by name; the
key store calls the connection-level helpers here so that a key, its organization and its
workspace are written in one transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, update

from parley.domain.ids import new_id
from parley.domain.tenancy import KeyInfo, WorkspaceInfo
from parley.store.tables import api_keys, organizations, workspaces

DEFAULT_ORGANIZATION = "Default Organization"
DEFAULT_WORKSPACE = "default"

T = TypeVar("T")


def first_organization_in(conn: Connection) -> str | None:
    """The oldest organization's id: the one a single-organization install has."""
    row = conn.execute(select(organizations.c.id).order_by(organizations.c.created_at)).first()
    return None if row is None else str(row.id)


def default_organization_in(conn: Connection, now: datetime) -> str:
    """The first organization's id, created (as the default one) if there is none yet."""
    found = first_organization_in(conn)
    if found is not None:
        return found
    org_id = str(uuid.uuid4())
    conn.execute(
        organizations.insert().values(id=org_id, name=DEFAULT_ORGANIZATION, created_at=now)
    )
    return org_id


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


def _workspaces(conn: Connection, organization_id: str) -> list[WorkspaceInfo]:
    query = (
        select(workspaces)
        .where(workspaces.c.organization_id == organization_id)
        .order_by(workspaces.c.created_at.desc(), workspaces.c.id)
    )
    return [WorkspaceInfo(r.id, r.name, _utc(r.created_at)) for r in conn.execute(query)]


def _keys(conn: Connection, organization_id: str) -> list[KeyInfo]:
    query = (
        select(api_keys)
        .where(api_keys.c.organization_id == organization_id)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    )
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
        for r in conn.execute(query)
    ]


class TenancyStore:
    """Implements `ports.Tenancy` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def _transaction(self, work: Callable[[Connection], T]) -> T:
        """Runs `work` in one transaction, in a worker thread (the driver blocks)."""

        def run() -> T:
            with self._engine.begin() as conn:
                return work(conn)

        return await asyncio.to_thread(run)

    async def first_organization(self) -> str | None:
        return await self._transaction(first_organization_in)

    async def tier_of(self, organization_id: str) -> str | None:
        def query(conn: Connection) -> str | None:
            row = conn.execute(
                select(organizations.c.tier).where(organizations.c.id == organization_id)
            ).first()
            return None if row is None else row.tier

        return await self._transaction(query)

    async def create_workspace(self, organization_id: str, name: str) -> WorkspaceInfo:
        def create(conn: Connection) -> WorkspaceInfo:
            workspace_id = workspace_in(conn, organization_id, name, datetime.now(UTC))
            return next(w for w in _workspaces(conn, organization_id) if w.id == workspace_id)

        return await self._transaction(create)

    async def workspaces(self, organization_id: str) -> list[WorkspaceInfo]:
        return await self._transaction(lambda conn: _workspaces(conn, organization_id))

    async def keys(self, organization_id: str) -> list[KeyInfo]:
        return await self._transaction(lambda conn: _keys(conn, organization_id))

    async def update_key(
        self, organization_id: str, key_id: str, *, name: str | None, status: str | None
    ) -> KeyInfo | None:
        values: dict[str, str] = {}
        if name is not None:
            values["name"] = name
        if status is not None:
            values["status"] = status

        def change(conn: Connection) -> KeyInfo | None:
            if values:
                conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key_id)
                    .where(api_keys.c.organization_id == organization_id)
                    .values(**values)
                )
            return next((k for k in _keys(conn, organization_id) if k.id == key_id), None)

        return await self._transaction(change)

    async def add_credit(self, organization_id: str, amount: Decimal) -> Decimal:
        """Records a credit purchase; returns the organization's cumulative purchases."""

        def add(conn: Connection) -> Decimal:
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

        return await self._transaction(add)

    async def set_tier(self, organization_id: str, tier: str) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                update(organizations).where(organizations.c.id == organization_id).values(tier=tier)
            )

        await self._transaction(write)


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
