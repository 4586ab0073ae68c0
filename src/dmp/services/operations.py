"""Operator use cases: verify the audit trail, rotate the master key."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

from sqlalchemy import select

from dmp.adapters.crypto import KeyRing
from dmp.adapters.db import tables as t
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import current_revision, upgrade
from dmp.services.audit import Break, verify_chain
from dmp.services.context import Context
from dmp.settings import Settings


@dataclass
class Verification:
    chains: int = 0
    entries: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_audit(ctx: Context) -> Verification:
    """Recompute every chain; a DMP whose chain is missing altogether is a break too."""
    result = Verification()
    with ctx.uow() as uow:
        chains = set(uow.audit.chains())
        records = set(uow.connection.execute(select(t.records.c.dmp_id)).scalars())
        for dmp_id in sorted(chains | records, key=str):
            with closing(uow.audit.chain(dmp_id)) as entries:
                count, problem = verify_chain(entries, uow.audit.head(dmp_id), ctx.signer, dmp_id)
            result.chains += 1
            result.entries += count
            if problem is not None:
                result.breaks.append(problem)
    return result


def rotate_keys(ctx: Context, keyring: KeyRing) -> int:
    """Re-wrap every data key under the current master key; returns how many were re-wrapped.
    Once it has run, the previous master keys can be removed from the configuration."""
    return ctx.keys.store.rewrap_all(keyring)


def migrate_database(settings: Settings) -> str | None:
    """Bring the database schema to the latest revision; returns that revision."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        return current_revision(engine)
    finally:
        engine.dispose()
