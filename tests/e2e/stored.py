"""What a deployment holds, to compare before and after a refused request: every row of every
table but the audit trail's (refusals are audited), the wrapped keys, the content files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from dmp.adapters.db.tables import metadata
from dmp.adapters.keystore import data_keys
from dmp.services.context import Context

AUDIT = frozenset({"audit_entries", "audit_heads"})
# A professional's first access to a DMP is recorded and notified to the patient once the DMP is
# opened to them, even if what they then ask for does not exist (a 404): a trace of the access,
# like its audit entry.
ACCESS_TRACES = frozenset({"accessors", "outbox"})


@dataclass(frozen=True)
class Stored:
    rows: dict[str, list[str]]
    keys: list[str]
    files: list[str]

    def count(self, table: str) -> int:
        return len(self.rows[table])

    def changes(self, after: Stored) -> dict[str, object]:
        """What differs from ``after``, table by table (for the failure messages)."""
        found: dict[str, object] = {
            name: sorted(set(rows) ^ set(after.rows[name]))
            for name, rows in self.rows.items()
            if rows != after.rows[name]
        }
        if self.keys != after.keys:
            found["keys"] = sorted(set(self.keys) ^ set(after.keys))
        if self.files != after.files:
            found["files"] = sorted(set(self.files) ^ set(after.files))
        return found


def stored(ctx: Context, ignored: frozenset[str] = AUDIT) -> Stored:
    rows = {}
    with ctx.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name not in ignored:
                rows[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    with ctx.keys.store.engine.connect() as conn:
        keys = sorted(str(r.dmp_id) for r in conn.execute(select(data_keys.c.dmp_id)))
    root = Path(ctx.settings.blob_dir) / "objects"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return Stored(rows, keys, files)
