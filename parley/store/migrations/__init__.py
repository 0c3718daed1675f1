"""Alembic migrations of the database: ordered, named steps, applied at start-up."""
