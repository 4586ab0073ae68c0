"""Raw access to the stored data, as an attacker or a backup would see it, and to the statements
that reach it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, event, inspect, text

from dmp.adapters.db.tables import metadata
from dmp.adapters.notify.base import Message


def all_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            t.name: [dict(r._mapping) for r in conn.execute(t.select())]
            for t in metadata.sorted_tables
        }


def restore_rows(engine: Engine, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    """Put a snapshot back, as restoring an old backup of the data would."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:  # a restored SQLite file replaces the old one, triggers and all
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        for table in reversed(metadata.sorted_tables):
            if engine.dialect.name == "postgresql":
                conn.execute(table.delete())
            else:
                conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE 1")
        for table in metadata.sorted_tables:
            if snapshot[table.name]:
                conn.execute(table.insert(), snapshot[table.name])


def files_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def snapshot_files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def restore_files(files: dict[Path, bytes]) -> None:
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def drop_audit_guards(engine: Engine) -> None:
    """What an attacker with full database rights would do before editing the trail."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")


def restore_audit_guards(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))


@dataclass
class Recorder:
    """A notifier that keeps what it is given to send."""

    messages: list[Message] = field(default_factory=list)
    channels: frozenset[str] = frozenset({"email", "sms"})

    def send(self, message: Message) -> None:
        self.messages.append(message)


def found_in_columns(engine: Engine, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a column of a row contains a needle, whatever the
    column's type: text as text, binary as bytes. Every table of the database, not only dmp's."""
    found = []
    with engine.connect() as conn:
        schema = inspect(conn)
        for table in schema.get_table_names():
            for column in schema.get_columns(table):
                for needle in needles:
                    if _contains(conn, table, column, needle):
                        found.append((table, column["name"], needle))
    return found


def _contains(conn: Connection, table: str, column: dict[str, Any], needle: str) -> bool:
    name = f'"{column["name"]}"'
    if conn.dialect.name == "sqlite":
        where = f"instr(CAST({name} AS BLOB), :needle) > 0"
    elif isinstance(column["type"], LargeBinary):
        where = f"position(:needle IN {name}) > 0"
    else:
        where = f"CAST({name} AS text) LIKE '%' || :needle || '%'"
    binary = conn.dialect.name == "sqlite" or isinstance(column["type"], LargeBinary)
    value = needle.encode() if binary else needle
    stmt = text(f'SELECT count(*) FROM "{table}" WHERE {where}')
    return bool(conn.execute(stmt, {"needle": value}).scalar())


def sqlite_bytes(url: str) -> bytes:
    """The database file and its write-ahead log, as a copy of the data directory holds them."""
    path = Path(url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def end_session(engine: Engine, pid: int) -> None:
    """End the PostgreSQL session ``pid`` from a connection of its own, outside the engine's pool
    (as a restart of the database ends every session)."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with engine.dialect.loaded_dbapi.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


@contextmanager
def statements(ctx: Any, engine: Engine | None = None) -> Iterator[list[str]]:
    """The SQL statements run meanwhile on the data database (or on ``engine``: the key store's,
    say), each on one line."""
    seen: list[str] = []
    engine = engine or ctx.engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
