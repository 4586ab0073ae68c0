"""The cost of the audit trail's witness (docs/adr/0004-audit-chain.md), on PostgreSQL:

    python -m benchmarks.witness --heads 150000 --moved 5000

A scratch database (dropped at the end) gets ``--heads`` audit heads signed two minutes before
a first checkpoint, all within the next checkpoint's 5-minute window, as at a busy hour (500
distinct DMPs a second). Timed: the first checkpoint (every head), a checkpoint after
``--moved`` heads moved (the steady state: the window's heads are read from the database and
from the witness, only the moved ones are written), one after nothing moved, each of its two
halves alone (the query through ``ix_audit_heads_signed_at``, the witness read back), and the
replay that ``dmp audit verify`` starts with. Heads only: no entries, no chain to recompute.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql
from sqlalchemy import insert, update

from benchmarks.env import _admin, pg_url  # the data sets' own way to create a database
from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import upgrade
from dmp.adapters.db.tables import audit_heads
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.context import Context
from dmp.services.witness import MARGIN, _recent, checkpoint  # _recent: timed on its own
from dmp.services.witness_check import replay
from dmp.settings import DeliverySettings, Settings

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"{label:<58} {time.perf_counter() - started:6.2f} s")
    return result


def _load_heads(url: str, count: int) -> list[uuid.UUID]:
    engine = make_engine(url)
    upgrade(engine)
    ids = [uuid.uuid4() for _ in range(count)]
    signed_at = START - timedelta(minutes=2)
    rows = [
        {"dmp_id": i, "seq": 3, "hash": hashlib.sha256(i.bytes).hexdigest(), "signature": "-"}
        | {"signed_at": signed_at}
        for i in ids
    ]
    with engine.begin() as conn:
        for start in range(0, count, 20_000):
            conn.execute(insert(audit_heads), rows[start : start + 20_000])
        conn.exec_driver_sql("ANALYZE audit_heads")
    engine.dispose()
    return ids


def _move(ctx: Context, ids: list[uuid.UUID]) -> None:
    with ctx.engine.begin() as conn:
        moved = update(audit_heads).where(audit_heads.c.dmp_id.in_(ids))
        conn.execute(moved.values(seq=4, signed_at=START + timedelta(seconds=5)))


def _query(ctx: Context) -> int:
    with ctx.uow() as uow:
        return sum(1 for _ in uow.audit.heads_signed_since(START - MARGIN))


def _read_back(ctx: Context) -> int:
    with ctx.witness.writer() as log:
        return len(_recent(log, ctx.witness.location)[2])


def measure(heads: int, moved: int, folder: Path) -> None:
    name = f"dmp_bench_witness_{uuid.uuid4().hex[:6]}"
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        ids = _load_heads(pg_url(name), heads)
        now = [START]
        settings = Settings(
            data_dir=folder / "data",
            database_url=pg_url(name),
            keystore_url=f"sqlite:///{folder / 'keys.sqlite3'}",
            blob_dir=folder / "blobs",
            master_keys=generate_master_key_spec("bench-witness"),
            audit_signing_key=AuditSigner.generate(),
            delivery=DeliverySettings(enabled=False),
        )
        ctx = build(settings, clock=lambda: now[0])
        _timed(f"first checkpoint, {heads:,} heads", lambda: checkpoint(ctx))
        size = ctx.witness.path.stat().st_size
        _move(ctx, ids[:moved])
        now[0] = START + timedelta(seconds=10)
        _timed(f"next checkpoint, {moved:,} of {heads:,} moved", lambda: checkpoint(ctx))
        added = ctx.witness.path.stat().st_size - size
        now[0] = START + timedelta(seconds=20)
        _timed("checkpoint, nothing moved", lambda: checkpoint(ctx))
        _timed("  of which the query alone", lambda: _query(ctx))
        _timed("  of which reading the witness back alone", lambda: _read_back(ctx))
        replayed = _timed(
            "replay (dmp audit verify's first step)", lambda: replay(ctx.witness, ctx.signer)
        )
        print(f"witness: {size / 1e6:.1f} MB (first checkpoint), {added / 1e6:.2f} MB (next)")
        print(f"replayed {replayed.lines} lines, {len(replayed.breaks)} breaks")
        ctx.engine.dispose()
    finally:
        _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.witness", description=__doc__)
    parser.add_argument("--heads", type=int, default=150_000)
    parser.add_argument("--moved", type=int, default=5_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dmp-bench-witness-") as folder:
        measure(args.heads, args.moved, Path(folder))


if __name__ == "__main__":
    main()
