"""Database engines: SQLite (embedded default) and PostgreSQL (production), tuned once here."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from dmp.adapters.files import private_sqlite_file

# Connections each process keeps open, and how many more it may open for a burst (closed again
# when given back to a full pool). The overflow is not the steady state: a connection opened per
# request costs PostgreSQL a new backend and the server a connection, and at 64 connections the
# pool of 10 (+ 10) of before opened ~15 a second (ADR 7). DMP_WORKERS × (POOL_SIZE + OVERFLOW),
# plus the key store's, must stay within PostgreSQL's max_connections.
POOL_SIZE, OVERFLOW = 20, 10


def make_engine(url: str, *, pool_size: int = POOL_SIZE) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.drivername == "postgresql":  # prefer psycopg 3 over the default psycopg2
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=pool_size, max_overflow=OVERFLOW)
    _ping_when_idle(engine)
    return engine


IDLE_BEFORE_PING = 1.0  # seconds


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle for more than
    ``IDLE_BEFORE_PING``: a database restart or failover leaves dead connections in the pool, and
    the first request after it must not meet one. A connection used a moment ago is not checked:
    a ping is a round trip and ~0.14 ms of CPU, twice per request (ADR 7). A connection that
    dies within that moment fails its request with a 503, and is replaced."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
        entry.info["used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: Any) -> None:
        if time.monotonic() - entry.info.get("used", 0.0) <= IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool drops this connection and checks out another (a new one if need be).
                raise sa_exc.DisconnectionError() from error
            raise


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
