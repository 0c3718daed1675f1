"""AWS access keys (SigV4 on the Bedrock surface), each belonging to an API key.

Revision ID: 0004_aws_credentials
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_aws_credentials"
down_revision = "0003_regions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aws_credentials",
        sa.Column("access_key_id", sa.String(32), primary_key=True),
        sa.Column("api_key_id", sa.String(64), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("aws_credentials")
