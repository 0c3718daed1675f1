"""Table definitions shared by every dialect."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("tier", String(64), nullable=True),  # None: the configured default tier
    Column("credit_purchased", Numeric(18, 2), nullable=False, server_default="0"),
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

ledger = Table(
    "ledger",
    metadata,
    Column("request_id", String(64), primary_key=True),  # insert-once: idempotent by request
    Column("message_id", String(64), nullable=False),
    Column("organization_id", String(64), nullable=False),
    Column("workspace_id", String(64), nullable=True),
    Column("api_key_id", String(64), nullable=True),
    Column("model", String(256), nullable=False),
    Column("surface", String(32), nullable=False),
    Column("region", String(32), nullable=False),
    Column("service_tier", String(32), nullable=False),
    Column("uncached_input_tokens", Integer, nullable=False),
    Column("cache_write_5m_tokens", Integer, nullable=False),
    Column("cache_write_1h_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_picodollars", BigInteger, nullable=False),
    # the same cost split by token type, so reports never re-price history
    Column("cost_uncached_picodollars", BigInteger, nullable=False),
    Column("cost_write_5m_picodollars", BigInteger, nullable=False),
    Column("cost_write_1h_picodollars", BigInteger, nullable=False),
    Column("cost_read_picodollars", BigInteger, nullable=False),
    Column("cost_output_picodollars", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("geo", String(32), nullable=True),  # the geo the request was held to
    Index("ledger_by_organization_time", "organization_id", "completed_at"),
)

# What the ledger holds per organization and UTC month ("2026-11"), updated in the transaction
# that inserts each ledger row and rebuilt from the ledger on start.
spend_totals = Table(
    "spend_totals",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("cost_picodollars", BigInteger, nullable=False),
)

# The ledger summed per UTC hour and per UTC day and every report dimension, kept in the
# transaction that records each row: reports read these for whole hours and days instead of
# the rows. `bucket` is the hour or day as text, `YYYY-MM-DD HH` or `YYYY-MM-DD`; unknown
# workspace, key or geo are '' here (a primary key has no NULLs).
ROLLUP_KEY = (
    "organization_id",
    "bucket",
    "workspace_id",
    "api_key_id",
    "model",
    "surface",
    "region",
    "service_tier",
    "geo",
)
ROLLUP_SUMS = (
    "requests",
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
)
_WIDTHS = {"organization_id": 64, "bucket": 13, "workspace_id": 64, "api_key_id": 64}
_WIDTHS |= {"model": 256, "surface": 32, "region": 32, "service_tier": 32, "geo": 32}


def _rollup(name: str) -> Table:
    return Table(
        name,
        metadata,
        *(Column(key, String(_WIDTHS[key]), nullable=False) for key in ROLLUP_KEY),
        *(Column(total, BigInteger, nullable=False) for total in ROLLUP_SUMS),
        PrimaryKeyConstraint(*ROLLUP_KEY),
    )


ledger_hourly = _rollup("ledger_hourly")
ledger_daily = _rollup("ledger_daily")

aws_credentials = Table(
    "aws_credentials",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("api_key_id", String(64), ForeignKey("api_keys.id"), nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),  # domain/sealing.py, never plain
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

message_batches = Table(
    "message_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("organization_id", String(64), nullable=False),
    Column("workspace_id", String(64), nullable=False),  # "" for an admin key's
    Column("api_key_id", String(64), nullable=False),
    Column("version", String(32), nullable=True),  # anthropic-version it was created with
    Column("total", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("cancel_initiated_at", DateTime(timezone=True), nullable=True),
    Column("archived_at", DateTime(timezone=True), nullable=True),
    # the tallies, set when the batch ends (kept once its results are deleted)
    Column("succeeded", Integer, nullable=False, server_default="0"),
    Column("errored", Integer, nullable=False, server_default="0"),
    Column("canceled", Integer, nullable=False, server_default="0"),
    Column("expired", Integer, nullable=False, server_default="0"),
    Index("message_batches_by_organization", "organization_id", "created_at"),
)

batch_requests = Table(
    "batch_requests",
    metadata,
    Column("id", String(64), primary_key=True),  # also the ledger's request id: billed once
    Column("batch_id", String(64), ForeignKey("message_batches.id"), nullable=False),
    Column("custom_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("result", Text, nullable=True),
    Column("leader_id", String(64), nullable=True),  # runs once its group's leader has ended
    Column("rank", Integer, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),  # epoch seconds
    UniqueConstraint("batch_id", "custom_id"),
    Index("batch_requests_by_batch", "batch_id", "seq"),
    Index("batch_requests_by_state", "state", "batch_id"),
)
