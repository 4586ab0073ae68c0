"""Raw access to the stored data, as an attacker or a backup would see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from dmp.adapters.db.tables import metadata


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
