"""Operator use cases: verify the audit trail, rotate the master key (migrating the database is
``services.migration``)."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from uuid import UUID

from dmp.adapters.crypto import KeyRing
from dmp.services.audit import SYSTEM_CHAIN, Break, verify_chain
from dmp.services.context import Context
from dmp.services.witness_check import (
    Restoration,
    Tap,
    WitnessBreak,
    empty_witness,
    replay,
    vanished,
)


@dataclass
class Verification:
    chains: int = 0
    entries: int = 0
    checkpoints: int = 0  # of the witness
    breaks: list[Break | WitnessBreak] = field(default_factory=list)
    restorations: list[Restoration] = field(default_factory=list)  # what each restore lost

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_audit(ctx: Context) -> Verification:
    """Replay the witness, then recompute every chain and hold it against the witness. A DMP
    whose chain is missing altogether is a break; so is a chain the witness saw that is no longer
    in the database, unless the system chain records that DMP's destruction.

    The witness is read first: what it holds was committed before the database is read, so a
    database behind it was rolled back, not merely caught mid-write."""
    witnessed = replay(ctx.witness, ctx.signer)
    result = Verification(
        checkpoints=witnessed.checkpoints,
        breaks=list(witnessed.breaks),
        restorations=witnessed.restorations,
    )
    with ctx.uow() as uow:
        chains = set(uow.audit.chains())
        records = set(uow.records.ids())
        if witnessed.found and witnessed.lines == 0 and chains:
            result.breaks.append(empty_witness(ctx.witness))
        gone = {dmp_id for dmp_id in witnessed.heads.chains() if dmp_id not in chains}
        destroyed: set[UUID] = set()
        # The system chain first: it tells which of the vanished DMPs were destroyed.
        for dmp_id in sorted(chains | records, key=lambda c: (c != SYSTEM_CHAIN, str(c))):
            tap = Tap(witnessed.heads.get(dmp_id), gone if dmp_id == SYSTEM_CHAIN else set())
            head = uow.audit.head(dmp_id)
            with closing(uow.audit.chain(dmp_id)) as entries:
                count, problem = verify_chain(tap.watch(entries), head, ctx.signer, dmp_id)
            result.chains += 1
            result.entries += count
            result.breaks += [b for b in (problem, tap.compare(dmp_id, head)) if b is not None]
            if dmp_id == SYSTEM_CHAIN and problem is None:  # its destructions are genuine
                destroyed = tap.destroyed
        for dmp_id in sorted(gone - records - destroyed, key=str):
            result.breaks.append(vanished(dmp_id, witnessed.heads[dmp_id]))
    return result


def rotate_keys(ctx: Context, keyring: KeyRing) -> int:
    """Re-wrap every data key under the current master key; returns how many were re-wrapped.
    Once it has run, the previous master keys can be removed from the configuration."""
    return ctx.keys.store.rewrap_all(keyring)
