"""What the reports need to stay fast on millions of ledger rows:

- `ledger_daily`, the ledger summed per UTC day and every report dimension (filled here from
  the rows so far, then kept by the store in each row's own transaction): day-bucketed reports
  read it instead of the rows;
- a covering index for the grouped queries that still read rows (hour and minute buckets, and
  partial days): every column they group or sum, after the organization and time they filter
  on (PostgreSQL: the sums as INCLUDE columns, for an index-only scan).

Revision ID: 0007_report_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_report_indexes"
down_revision = "0004_aws_credentials"
branch_labels = None
depends_on = None

DAILY_KEY = {  # the column and its length; '' where a workspace, key or geo is not known
    "organization_id": 64,
    "day": 10,  # YYYY-MM-DD, UTC
    "workspace_id": 64,
    "api_key_id": 64,
    "model": 256,
    "surface": 32,
    "region": 32,
    "service_tier": 32,
    "geo": 32,
}
GROUPED = ["model", "workspace_id", "api_key_id", "service_tier", "surface", "region", "geo"]
SUMMED = [
    "uncached_input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "cost_picodollars",
    "cost_uncached_picodollars",
    "cost_write_5m_picodollars",
    "cost_write_1h_picodollars",
    "cost_read_picodollars",
    "cost_output_picodollars",
]
DAILY_SUMS = ["requests", *SUMMED]
DAY = {
    "postgresql": "to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "sqlite": "substr(completed_at, 1, 10)",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.create_index(
            "ledger_report_totals",
            "ledger",
            ["organization_id", "completed_at"],
            postgresql_include=GROUPED + SUMMED,
        )
    else:
        op.create_index(
            "ledger_report_totals", "ledger", ["organization_id", "completed_at", *GROUPED, *SUMMED]
        )
    op.create_table(
        "ledger_daily",
        *(sa.Column(name, sa.String(size), nullable=False) for name, size in DAILY_KEY.items()),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in DAILY_SUMS),
        sa.PrimaryKeyConstraint(*DAILY_KEY),
    )
    keys = ", ".join(DAILY_KEY)
    sums = ", ".join(f"SUM({name})" for name in SUMMED)
    op.execute(
        f"INSERT INTO ledger_daily ({keys}, {', '.join(DAILY_SUMS)}) "
        f"SELECT organization_id, {DAY[dialect]}, COALESCE(workspace_id, ''), "
        "COALESCE(api_key_id, ''), model, surface, region, service_tier, COALESCE(geo, ''), "
        f"COUNT(*), {sums} FROM ledger GROUP BY {', '.join(str(i) for i in range(1, 10))}"
    )


def downgrade() -> None:
    op.drop_table("ledger_daily")
    op.drop_index("ledger_report_totals", "ledger")
