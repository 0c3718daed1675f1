"""Persistence adapters on SQLAlchemy Core: SQLite by default, PostgreSQL by URL."""
