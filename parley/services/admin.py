"""The Admin API's tenancy: workspaces, keys and credit purchases of the caller's organization.
Admin keys only; another organization's objects are never found."""

from __future__ import annotations

from decimal import Decimal

from parley.domain.ports import CreatedKey, Keys, Principal, Tenancy
from parley.domain.tenancy import KeyInfo, WorkspaceInfo
from parley.errors import InvalidRequestError, NotFoundError
from parley.services.auth import require_admin
from parley.services.limits import RateLimits


class Admin:
    def __init__(self, tenancy: Tenancy, limits: RateLimits, keys: Keys) -> None:
        self._tenancy = tenancy
        self._limits = limits
        self._keys = keys

    async def create_workspace(self, principal: Principal, name: str) -> WorkspaceInfo:
        require_admin(principal, "the Admin API")
        return await self._tenancy.create_workspace(principal.organization_id, name)

    async def workspaces(self, principal: Principal) -> list[WorkspaceInfo]:
        require_admin(principal, "the Admin API")
        return await self._tenancy.workspaces(principal.organization_id)

    async def keys(self, principal: Principal) -> list[KeyInfo]:
        require_admin(principal, "the Admin API")
        return await self._tenancy.keys(principal.organization_id)

    async def create_key(self, principal: Principal, name: str, workspace_id: str) -> CreatedKey:
        """A new API key in one of the organization's workspaces; its secret is in the answer
        only. (The hosted Admin API creates no keys: this is the console's and the CLI's.)"""
        require_admin(principal, "creating keys")
        found = [w for w in await self.workspaces(principal) if w.id == workspace_id]
        if not found:
            raise NotFoundError(f"workspace {workspace_id!r} not found")
        if not name.strip():
            raise InvalidRequestError("name: must not be empty")
        if await self._tenancy.first_organization() != principal.organization_id:
            raise InvalidRequestError("keys can be created in the first organization only")
        return await self._keys.create(name=name.strip(), workspace=found[0].name)

    async def update_key(
        self, principal: Principal, key_id: str, *, name: str | None, status: str | None
    ) -> KeyInfo:
        require_admin(principal, "the Admin API")
        updated = await self._tenancy.update_key(
            principal.organization_id, key_id, name=name, status=status
        )
        if updated is None:
            raise NotFoundError(f"api_key {key_id!r} not found")
        return updated

    async def buy_credit(self, principal: Principal, amount: Decimal) -> tuple[Decimal, str]:
        """Records a purchase; the tier follows the cumulative amount (the legacy preset's
        thresholds; in the current preset every threshold is 0, so tiers are set, not bought)."""
        require_admin(principal, "the Admin API")
        total = await self._tenancy.add_credit(principal.organization_id, amount)
        current = await self._limits.tier(principal.organization_id)
        reached = self._limits.tier_for_credit(total)
        tier = reached if reached.credit_threshold > current.credit_threshold else current
        await self._tenancy.set_tier(principal.organization_id, tier.name)
        return total, tier.name
