"""The geo each billed request was held to. First-party rows so far kept their
`inference_geo` as the region; it moves to `geo`, and their region becomes the endpoint's,
"global".

Revision ID: 0003_regions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_regions"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("geo", sa.String(32), nullable=True))
    op.execute("UPDATE ledger SET geo = region, region = 'global' WHERE surface = 'claude_api'")


def downgrade() -> None:
    op.execute("UPDATE ledger SET region = geo WHERE surface = 'claude_api' AND geo IS NOT NULL")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("geo")
