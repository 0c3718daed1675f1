"""Table definitions shared by every dialect."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, MetaData, String, Table

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("organization_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("organization_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("workspace_id", String(64), ForeignKey("workspaces.id"), nullable=True),
    Column("name", String(256), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("partial_key_hint", String(64), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
