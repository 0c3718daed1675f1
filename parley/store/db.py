"""Database engine from a URL, migrated to the latest schema; SQLite gets WAL and a busy
timeout so readers never block. A database that cannot be reached is a 500 that says so, and
the pool's pre-ping replaces dead connections, so the server recovers once it is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from parley.errors import InternalServerError

MIGRATIONS = Path(__file__).parent / "migrations"


def connect(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "handle_error", _unavailable)
    migrate(engine)
    return engine


FIRST_RELEASE = "0001_keys"


def migrate(engine: Engine) -> None:
    """Applies every migration the database has not had yet (Alembic, in one transaction).
    A database of the first release, made before migrations existed, has its keys tables
    but no version: it is marked as being at the first migration, then upgraded."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        unversioned = MigrationContext.configure(connection).get_current_revision() is None
        if unversioned and "api_keys" in inspect(connection).get_table_names():
            command.stamp(config, FIRST_RELEASE)
        command.upgrade(config, "head")


def _unavailable(context: ExceptionContext) -> None:
    """A lost or refused connection (not a bad statement) becomes a clear, retryable 500;
    never the URL, which may hold a password."""
    if context.is_pre_ping:
        return  # the pool handles a failed ping by reconnecting
    if context.is_disconnect or isinstance(context.sqlalchemy_exception, OperationalError):
        raise InternalServerError(
            "The database is unavailable. Retry shortly.", headers={"x-should-retry": "true"}
        ) from context.original_exception


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
