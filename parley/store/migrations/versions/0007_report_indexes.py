"""A covering index for the reports' grouped queries: every column they group or sum, after the
organization and time they filter on, so the database answers them from the index alone
(PostgreSQL: an index-only scan with the sums as INCLUDE columns; SQLite: a covering index).

Revision ID: 0007_report_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0007_report_indexes"
down_revision = "0004_aws_credentials"
branch_labels = None
depends_on = None

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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
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


def downgrade() -> None:
    op.drop_index("ledger_report_totals", "ledger")
