"""The ledger, and each organization's tier and credit purchases.

Revision ID: 0002_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("tier", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("credit_purchased", sa.Numeric(18, 2), nullable=False, server_default="0")
        )
    op.create_table(
        "ledger",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("api_key_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("service_tier", sa.String(32), nullable=False),
        sa.Column("uncached_input_tokens", sa.Integer, nullable=False),
        sa.Column("cache_write_5m_tokens", sa.Integer, nullable=False),
        sa.Column("cache_write_1h_tokens", sa.Integer, nullable=False),
        sa.Column("cache_read_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost_picodollars", sa.BigInteger, nullable=False),
        sa.Column("cost_uncached_picodollars", sa.BigInteger, nullable=False),
        sa.Column("cost_write_5m_picodollars", sa.BigInteger, nullable=False),
        sa.Column("cost_write_1h_picodollars", sa.BigInteger, nullable=False),
        sa.Column("cost_read_picodollars", sa.BigInteger, nullable=False),
        sa.Column("cost_output_picodollars", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ledger_by_organization_time", "ledger", ["organization_id", "completed_at"])


def downgrade() -> None:
    op.drop_index("ledger_by_organization_time", "ledger")
    op.drop_table("ledger")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("credit_purchased")
        batch.drop_column("tier")
