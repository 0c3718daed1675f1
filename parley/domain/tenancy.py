"""Workspaces and keys as the admin API shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    status: str  # active | inactive
    workspace_id: str | None
    partial_key_hint: str
    is_admin: bool
    created_at: datetime
