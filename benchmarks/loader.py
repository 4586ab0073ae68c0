"""Writing generated rows: PostgreSQL binary ``COPY`` (psycopg 3 ``cursor.copy``) or SQLite
``executemany``; encrypted contents into the blob store.

For a bulk load on PostgreSQL, :func:`defer_constraints` drops the constraints and indexes of
the big tables (saving their exact definitions from the catalogue) and gives back the statements
that recreate them once the rows are in: sorting once beats millions of random B-tree inserts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    Table,
    Uuid,
    insert,
)
from sqlalchemy.engine import Engine
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from benchmarks.synth import Rows
from dmp.adapters.blobs import LocalBlobStore
from dmp.adapters.crypto import encrypt_stream
from dmp.adapters.db import tables as t
from dmp.adapters.db.tables import UTCDateTime
from dmp.adapters.keystore import data_keys

BULK_TABLES = (
    "accounts",
    "records",
    "consents",
    "authorizations",
    "accessors",
    "documents",
    "document_contents",
    "audit_entries",
    "audit_heads",
)
_TABLES: dict[str, Table] = {table.name: table for table in t.metadata.sorted_tables}


def _pg_type(column: Any) -> str:
    kind = column.type
    for sa_type, name in (
        (Uuid, "uuid"),
        (BigInteger, "int8"),
        (Integer, "int4"),
        (Boolean, "bool"),
        (LargeBinary, "bytea"),
        (UTCDateTime, "timestamptz"),
        (DateTime, "timestamptz"),
    ):
        if isinstance(kind, sa_type):
            return name
    return "text"  # String and Text: the binary format of varchar is that of text


def _scalar_default(column: Column[Any]) -> Any:
    default = column.default
    return default.arg if isinstance(default, ScalarElementColumnDefault) else None


class _CopySpec:
    """The column list, binary types and row getter of one table."""

    def __init__(self, table: Table) -> None:
        names = [c.name for c in table.columns]
        self.statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
        self.types = [_pg_type(c) for c in table.columns]
        # A column the generated rows do not name (one a later migration added, such as the
        # professional portal's login columns) takes its scalar default, else NULL: a NOT NULL
        # column without a default still fails the COPY, loudly.
        defaults = {c.name: _scalar_default(c) for c in table.columns}
        self.getter = lambda row: tuple(row.get(n, defaults[n]) for n in names)


class PgSink:
    """COPY batches into the data database and the key store (keys first, as the services do)."""

    def __init__(self, data_conninfo: str, keys_conninfo: str) -> None:
        self.data = psycopg.connect(data_conninfo)
        self.keys = psycopg.connect(keys_conninfo)
        for conn in (self.data, self.keys):
            conn.execute("SET synchronous_commit = off")  # a failed load is started again
        self._specs = {name: _CopySpec(table) for name, table in _TABLES.items()}
        self._specs["data_keys"] = _CopySpec(data_keys)

    def write(self, rows: Rows) -> None:
        if rows.keys:
            self._copy(self.keys, "data_keys", rows.keys)
            self.keys.commit()
        for table in t.metadata.sorted_tables:  # parents before children
            if rows.tables.get(table.name):
                self._copy(self.data, table.name, rows.tables[table.name])
        self.data.commit()

    def _copy(self, conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
        spec = self._specs[table]
        with conn.cursor() as cursor, cursor.copy(spec.statement) as copy:
            copy.set_types(spec.types)
            for row in rows:
                copy.write_row(spec.getter(row))

    def close(self) -> None:
        self.data.close()
        self.keys.close()


class SqlSink:
    """Plain inserts through SQLAlchemy: for SQLite at small scale."""

    def __init__(self, data: Engine, keys: Engine) -> None:
        self.data_engine, self.keys_engine = data, keys

    def write(self, rows: Rows) -> None:
        if rows.keys:
            with self.keys_engine.begin() as conn:
                conn.execute(insert(data_keys), rows.keys)
        with self.data_engine.begin() as conn:
            for table in t.metadata.sorted_tables:
                if rows.tables.get(table.name):
                    conn.execute(insert(table), rows.tables[table.name])

    def close(self) -> None:
        self.data_engine.dispose()
        self.keys_engine.dispose()


def write_blobs(store: LocalBlobStore, blobs: Iterable[tuple[str, bytes, bytes, bytes]]) -> int:
    """Encrypt and store each sampled content exactly as ``submit_documents`` does."""
    total = 0
    for blob_key, data_key, aad, data in blobs:
        total += store.put(blob_key, encrypt_stream(data_key, aad, [data]))
    return total


# --- bulk-load mode: constraints and indexes out, then back --------------------------------------

_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('p', 'u', 'f')
"""
_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


def defer_constraints(conn: psycopg.Connection, tables: Iterable[str]) -> list[str]:
    """Drop the keys, foreign keys and indexes of ``tables`` (and foreign keys pointing at
    them); returns the DDL that restores them, in a valid order."""
    names = list(tables)
    constraints = conn.execute(_CONSTRAINTS, [names]).fetchall()
    referencing = conn.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND confrelid = ANY(%s::regclass[])",
        [names],
    ).fetchall()
    indexes = conn.execute(_INDEXES, [names]).fetchall()
    foreign = {row[:2]: row for row in [*constraints, *referencing] if row[2] == "f"}
    keys = [row for row in constraints if row[2] in ("p", "u")]
    for table, name, _kind, _definition in foreign.values():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for table, name, _kind, _definition in keys:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    restore = [f'ALTER TABLE {tb} ADD CONSTRAINT "{n}" {d}' for tb, n, _k, d in keys]
    restore += [definition for _name, definition in indexes]
    restore += [f'ALTER TABLE {tb} ADD CONSTRAINT "{n}" {d}' for tb, n, _k, d in foreign.values()]
    return restore


def restore_constraints(conn: psycopg.Connection, statements: Iterable[str]) -> None:
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
