"""Database engines: SQLite (embedded default) and PostgreSQL (production), tuned once here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dmp.adapters.files import private_sqlite_file


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.drivername == "postgresql":  # prefer psycopg 3 over the default psycopg2
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_engine(url: str) -> Engine:
    private_sqlite_file(make_url(url).database)
    # One connection per use: SQLite connections are cheap and this keeps file locks short.
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the pysqlite recipe in SQLAlchemy's docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")  # destroyed data is overwritten in the file
        cursor.execute("PRAGMA synchronous=FULL")  # nothing acknowledged is lost
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Almost every transaction writes (each read is audited): take the write lock up front so
        # that two transactions never deadlock upgrading a read lock. Autocommit connections
        # (read-only units of work) take no transaction at all.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
