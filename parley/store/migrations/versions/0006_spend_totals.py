"""Each organization's running spend per UTC month, kept with the ledger, so the spend cap
reads one row instead of summing the month's.

Revision ID: 0006_spend_totals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_spend_totals"
down_revision = "0005_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_totals",
        sa.Column("organization_id", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("cost_picodollars", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("spend_totals")
