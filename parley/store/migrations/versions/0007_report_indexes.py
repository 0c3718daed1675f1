"""What the reports need to stay fast on millions of ledger rows: `ledger_hourly` and
`ledger_daily`, the ledger summed per UTC hour and per UTC day and every report dimension
(filled here from the rows so far, then kept by the store in each row's own transaction).
Reports read them for whole hours and days instead of the rows; their primary keys index them
by organization and bucket. The rows still read (minute buckets, and the minutes at either end
of a range) come through the ledger's index by organization and time.

Revision ID: 0007_report_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_report_indexes"
down_revision = "0006_spend_totals"
branch_labels = None
depends_on = None

ROLLUP_KEY = {  # the column and its length; '' where a workspace, key or geo is not known
    "organization_id": 64,
    "bucket": 13,  # UTC: YYYY-MM-DD HH (hourly), YYYY-MM-DD (daily)
    "workspace_id": 64,
    "api_key_id": 64,
    "model": 256,
    "surface": 32,
    "region": 32,
    "service_tier": 32,
    "geo": 32,
}
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
ROLLUP_SUMS = ["requests", *SUMMED]
BUCKETS = {  # table: (PostgreSQL, SQLite) text of a row's bucket
    "ledger_hourly": (
        "to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
        "substr(completed_at, 1, 13)",
    ),
    "ledger_daily": (
        "to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        "substr(completed_at, 1, 10)",
    ),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    keys = ", ".join(ROLLUP_KEY)
    sums = ", ".join(f"SUM({name})" for name in SUMMED)
    for table, (postgres, sqlite) in BUCKETS.items():
        op.create_table(
            table,
            *(sa.Column(n, sa.String(size), nullable=False) for n, size in ROLLUP_KEY.items()),
            *(sa.Column(name, sa.BigInteger, nullable=False) for name in ROLLUP_SUMS),
            sa.PrimaryKeyConstraint(*ROLLUP_KEY),
        )
        bucket = postgres if dialect == "postgresql" else sqlite
        op.execute(
            f"INSERT INTO {table} ({keys}, {', '.join(ROLLUP_SUMS)}) "
            f"SELECT organization_id, {bucket}, COALESCE(workspace_id, ''), "
            "COALESCE(api_key_id, ''), model, surface, region, service_tier, COALESCE(geo, ''), "
            f"COUNT(*), {sums} FROM ledger GROUP BY {', '.join(str(i) for i in range(1, 10))}"
        )


def downgrade() -> None:
    op.drop_table("ledger_daily")
    op.drop_table("ledger_hourly")
